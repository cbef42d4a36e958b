from django.urls import path

from marketplace import api

app_name = "marketplace"

urlpatterns = [
    path("me", api.MeApi.as_view(), name="me"),
    path("keys", api.ApiKeyListApi.as_view(), name="keys"),
    path("keys/<int:key_id>", api.ApiKeyDetailApi.as_view(), name="key-detail"),
    path("organization/upload-access", api.UploadAccessApi.as_view(), name="upload-access"),
]
