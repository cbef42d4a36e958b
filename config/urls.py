from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.exceptions import json_or_html_404
from marketplace import health as marketplace_health
from marketplace import views as marketplace_views
from marketplace.observability.metrics import metrics_view

api_patterns = [
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("marketplace.urls")),
    path("", include("contributors.urls")),
    path("", include("licensing.urls")),
    path("", include("payouts.urls")),
    # MDC_API_URL + "/schema-registry", the recipe of the MDC contract §8
    path("schema-registry/", include("marketplace.registry_views")),
    # Last: any other /api/... path is the JSON 404 envelope, with DEBUG on too (Django's
    # debug 404 page would otherwise answer an API client with HTML).
    re_path(r"^", csrf_exempt(json_or_html_404), name="api-not-found"),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    # sign up, sign in, e-mail verification, password reset, two-factor (django-allauth)
    path("accounts/", include("allauth.urls")),
    # home, dashboard, organisation, members, invitations, API keys (the site shell)
    path("", include("web.urls")),
    # /.well-known/jwks.json, the terms page (/datasets/<id>/terms)
    path("", include("licensing.web_urls")),
    # invitation claim page, Stripe onboarding return/refresh pages
    path("", include("contributors.web_urls")),
    # the SDK's load_dataset schema registry (also under /api/, see marketplace/registry_views.py)
    path("schema-registry/", include("marketplace.registry_views")),
    path("healthz", marketplace_health.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("livez", marketplace_health.livez, name="livez"),
    path("readyz", marketplace_health.readyz, name="readyz"),
    path("webhooks/stripe", marketplace_views.stripe_webhook, name="stripe-webhook"),
    path("admin/", admin.site.urls),
]

handler400 = "config.exceptions.json_or_html_400"
handler403 = "config.exceptions.json_or_html_403"
handler404 = "config.exceptions.json_or_html_404"
handler500 = "config.exceptions.json_or_html_500"
