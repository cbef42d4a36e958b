from django.urls import path

from contributors import api, api_consent

app_name = "contributors"

urlpatterns = [
    path("datasets/<str:dataset_id>/shares", api.DatasetSharesApi.as_view(), name="shares"),
    path(
        "datasets/<str:dataset_id>/member-mapping",
        api_consent.DatasetMemberMappingApi.as_view(),
        name="member-mapping",
    ),
    path(
        "datasets/<str:dataset_id>/member-mapping.csv",
        api_consent.DatasetMemberMappingCsvApi.as_view(),
        name="member-mapping-csv",
    ),
    path(
        "contributors/me/withdrawals",
        api_consent.ContributorWithdrawalsApi.as_view(),
        name="contributor-withdrawals",
    ),
    path("contributors/claim", api.ContributorClaimApi.as_view(), name="claim"),
    path("contributors/me", api.ContributorMeApi.as_view(), name="me"),
    path(
        "contributors/me/payout-account",
        api.ContributorPayoutAccountApi.as_view(),
        name="contributor-payout-account",
    ),
    path(
        "payout-account",
        api.OrganizationPayoutAccountApi.as_view(),
        name="organization-payout-account",
    ),
]
