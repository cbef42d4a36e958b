"""A URLconf for the error-envelope test: the real API plus one view that crashes."""

from django.urls import include, path
from rest_framework.views import APIView


class Boom(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        raise RuntimeError("kaboom with internal detail")


urlpatterns = [
    path("api/boom", Boom.as_view()),
    path("", include("config.urls")),
]
