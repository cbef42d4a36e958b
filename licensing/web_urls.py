"""Non-API routes of the licensing app, included at the site root by config/urls.py:

path("", include("licensing.web_urls")),
"""

from django.urls import path

from licensing import views

app_name = "licensing_web"

urlpatterns = [
    path(".well-known/jwks.json", views.jwks_view, name="jwks"),
    path("datasets/<str:id_or_slug>/terms", views.terms_page, name="terms"),
]
