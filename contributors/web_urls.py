"""Non-API pages of contributors (invitation claim, Stripe onboarding return/refresh)."""

from django.urls import path

from contributors import views, views_consent

app_name = "contributors_web"

urlpatterns = [
    # The invitation link: /contributors/claim#token=... (the token stays out of the path).
    path("contributors/claim", views.claim_page, name="claim"),
    path("contributors/claim/<str:token>", views.claim_page_legacy, name="claim-legacy"),
    path(
        "me/contributions/<str:dataset_id>/withdraw",
        views_consent.contribution_withdraw,
        name="withdraw",
    ),
    path("payout-account/return", views.onboarding_return, name="onboarding-return"),
    path("payout-account/refresh", views.onboarding_refresh, name="onboarding-refresh"),
    path(
        "contributors/me/payout-account/return",
        views.onboarding_return,
        name="me-onboarding-return",
    ),
    path(
        "contributors/me/payout-account/refresh",
        views.onboarding_refresh,
        name="me-onboarding-refresh",
    ),
]
