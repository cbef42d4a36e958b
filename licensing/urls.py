"""Licensing API routes (mounted under /api/ by config/urls.py). No trailing slashes."""

from django.urls import path

from licensing import api, api_manifests, api_orders

app_name = "licensing"

urlpatterns = [
    path("licenses", api.LicenseListApi.as_view(), name="licenses"),
    path("orders", api_orders.OrderListApi.as_view(), name="orders"),
    path("orders/<str:order_id>", api_orders.OrderDetailApi.as_view(), name="order-detail"),
    path("datasets/<str:id_or_slug>/terms", api.DatasetTermsApi.as_view(), name="dataset-terms"),
    path(
        "datasets/<str:id_or_slug>/access-requests",
        api.DatasetAccessRequestApi.as_view(),
        name="dataset-access-requests",
    ),
    path(
        "datasets/<str:id_or_slug>/download",
        api.DatasetDownloadApi.as_view(),
        name="dataset-download",
    ),
    path(
        "datasets/<str:id_or_slug>/sample-download",
        api.DatasetSampleDownloadApi.as_view(),
        name="dataset-sample-download",
    ),
    path(
        "datasets/<str:id_or_slug>/downloads",
        api.DatasetDownloadsApi.as_view(),
        name="dataset-downloads",
    ),
    path("access-requests", api.AccessRequestListApi.as_view(), name="access-requests"),
    path(
        "access-requests/<str:request_id>",
        api.AccessRequestDetailApi.as_view(),
        name="access-request-detail",
    ),
    path(
        "access-requests/<str:request_id>/approve",
        api.AccessRequestApproveApi.as_view(),
        name="access-request-approve",
    ),
    path(
        "access-requests/<str:request_id>/reject",
        api.AccessRequestRejectApi.as_view(),
        name="access-request-reject",
    ),
    path("grants", api.GrantListApi.as_view(), name="grants"),
    path("grants/<str:grant_id>", api.GrantDetailApi.as_view(), name="grant-detail"),
    path(
        "grants/<str:grant_id>/certificate",
        api.GrantCertificateApi.as_view(),
        name="grant-certificate",
    ),
    path("certificates/verify", api.CertificateVerifyApi.as_view(), name="certificate-verify"),
    path(
        "deletion-manifests",
        api_manifests.DeletionManifestListApi.as_view(),
        name="deletion-manifests",
    ),
    path(
        "deletion-manifests/<str:manifest_id>",
        api_manifests.DeletionManifestDetailApi.as_view(),
        name="deletion-manifest-detail",
    ),
    path(
        "deletion-manifests/<str:manifest_id>/acknowledge",
        api_manifests.DeletionManifestAcknowledgeApi.as_view(),
        name="deletion-manifest-acknowledge",
    ),
    path(
        "datasets/<str:dataset_id>/consent-withdrawals",
        api_manifests.DatasetConsentWithdrawalsApi.as_view(),
        name="dataset-consent-withdrawals",
    ),
    path(
        "compliance/training-data-summary",
        api.TrainingDataSummaryApi.as_view(),
        name="compliance-training-data-summary",
    ),
]
