from django.urls import include, path, re_path

from marketplace import api, catalogue_api, takedown_api

app_name = "marketplace"

# Part numbers are matched as signed integers so 0 and out-of-range values reach the view and
# get a clear error instead of a bare 404.
PART = r"(?P<part_number>-?\d+)"

urlpatterns = [
    # Outbound events: /webhook-endpoints..., /events (marketplace/events/urls.py)
    path("", include("marketplace.events.urls")),
    path("ping", api.PingApi.as_view(), name="ping"),
    path(
        "takedown-notices",
        takedown_api.TakedownNoticeListApi.as_view(),
        name="takedown-notices",
    ),
    path("me", api.MeApi.as_view(), name="me"),
    path("keys", api.ApiKeyListApi.as_view(), name="keys"),
    path("keys/<int:key_id>", api.ApiKeyDetailApi.as_view(), name="key-detail"),
    path("organization/upload-access", api.UploadAccessApi.as_view(), name="upload-access"),
    # Catalogue. `filters` must come before the id-or-slug route.
    path("datasets", catalogue_api.DatasetListApi.as_view(), name="datasets"),
    path("datasets/filters", catalogue_api.DatasetFiltersApi.as_view(), name="dataset-filters"),
    path(
        "datasets/<str:id_or_slug>", catalogue_api.DatasetDetailApi.as_view(), name="dataset-detail"
    ),
    path(
        "datasets/<str:id_or_slug>/croissant",
        catalogue_api.DatasetCroissantApi.as_view(),
        name="dataset-croissant",
    ),
    # Submissions
    # GET lists (marketplace/api.py), POST is E7 (catalogue_api).
    path("submissions", api.SubmissionListApi.as_view(), name="submissions"),
    path(
        "submissions/<str:submission_id>",
        catalogue_api.SubmissionDetailApi.as_view(),
        name="submission-detail",
    ),
    path(
        "submissions/<str:submission_id>/checks",
        catalogue_api.SubmissionChecksApi.as_view(),
        name="submission-checks",
    ),
    # Dataset archive uploads
    path("uploads", catalogue_api.UploadStartApi.as_view(), name="uploads"),
    re_path(
        rf"^uploads/(?P<upload_id>[^/]+)/parts/{PART}$",
        catalogue_api.UploadPartApi.as_view(),
        name="upload-part",
    ),
    path(
        "uploads/<str:upload_id>/parts",
        catalogue_api.UploadPartsApi.as_view(),
        name="upload-parts",
    ),
    path(
        "uploads/<str:upload_id>/assemble",
        catalogue_api.UploadAssembleApi.as_view(),
        name="upload-assemble",
    ),
    # POST completes, DELETE aborts.
    path(
        "uploads/<str:upload_id>", catalogue_api.UploadCompleteApi.as_view(), name="upload-complete"
    ),
    # Sample archive uploads
    path(
        "submissions/<str:submission_id>/sample",
        catalogue_api.SampleUploadStartApi.as_view(),
        name="sample-uploads",
    ),
    re_path(
        rf"^submissions/(?P<submission_id>[^/]+)/sample/(?P<upload_id>[^/]+)/parts/{PART}$",
        catalogue_api.SampleUploadPartApi.as_view(),
        name="sample-upload-part",
    ),
    path(
        "submissions/<str:submission_id>/sample/<str:upload_id>/parts",
        catalogue_api.SampleUploadPartsApi.as_view(),
        name="sample-upload-parts",
    ),
    path(
        "submissions/<str:submission_id>/sample/<str:upload_id>/assemble",
        catalogue_api.SampleUploadAssembleApi.as_view(),
        name="sample-upload-assemble",
    ),
    path(
        "submissions/<str:submission_id>/sample/<str:upload_id>",
        catalogue_api.SampleUploadCompleteApi.as_view(),
        name="sample-upload-complete",
    ),
]
