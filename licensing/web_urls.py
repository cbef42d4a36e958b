"""Non-API routes of the licensing app, included at the site root by config/urls.py:

path("", include("licensing.web_urls")),
"""

from django.urls import path

from licensing import views, views_access, views_compliance, views_consent, views_library

app_name = "licensing_web"

urlpatterns = [
    path(".well-known/jwks.json", views.jwks_view, name="jwks"),
    path("datasets/<str:id_or_slug>/terms", views.terms_page, name="terms"),
    # The dataset page's "Get access" panel and paying in the browser (views_access.py).
    path(
        "datasets/<str:id_or_slug>/access/terms",
        views_access.access_terms_accept,
        name="access_terms",
    ),
    path(
        "datasets/<str:id_or_slug>/access/request",
        views_access.access_request_submit,
        name="access_request",
    ),
    path(
        "datasets/<str:id_or_slug>/access/download",
        views_access.access_download,
        name="access_download",
    ),
    path("datasets/<str:id_or_slug>/access/order", views_access.access_order, name="access_order"),
    path("orders/<str:order_id>", views_access.order_page, name="order"),
    path("orders/<str:order_id>/status", views_access.order_status, name="order_status"),
    # The licensee's library and the public certificate check (licensing/views_library.py).
    path("library", views_library.library_page, name="library"),
    path("library/compliance", views_compliance.compliance_page, name="library_compliance"),
    path(
        "library/grants/<str:grant_id>/certificate",
        views_library.certificate_page,
        name="library_certificate",
    ),
    path(
        "library/grants/<str:grant_id>/certificate.jws",
        views_library.certificate_download,
        name="library_certificate_download",
    ),
    path(
        "library/grants/<str:grant_id>/download",
        views_library.grant_download,
        name="library_download",
    ),
    path("library/receipts/<str:order_id>", views_library.receipt_page, name="library_receipt"),
    # Consent withdrawal: the licensee's deletion manifests, the provider's page of a dataset.
    path(
        "library/deletion-manifests",
        views_consent.library_manifests_page,
        name="library_manifests",
    ),
    path(
        "library/deletion-manifests/<str:manifest_id>/acknowledge",
        views_consent.library_manifest_acknowledge,
        name="library_manifest_acknowledge",
    ),
    path(
        "organization/datasets/<str:dataset_id>/consent",
        views_consent.dataset_consent_page,
        name="dataset_consent",
    ),
    path(
        "organization/datasets/<str:dataset_id>/consent/mapping",
        views_consent.dataset_consent_mapping,
        name="dataset_consent_mapping",
    ),
    path(
        "organization/datasets/<str:dataset_id>/consent/withdrawals",
        views_consent.dataset_consent_record,
        name="dataset_consent_record",
    ),
    path("verify", views_library.verify_page, name="verify"),
]
