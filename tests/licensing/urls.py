"""The project's URLs plus the licensing web routes (JWKS, terms page) that config/urls.py will
include at the site root."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("", include("licensing.web_urls"))]
