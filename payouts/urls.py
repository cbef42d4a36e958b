from django.urls import path

from payouts import api

app_name = "payouts"

urlpatterns = [
    path("earnings", api.EarningsApi.as_view(), name="earnings"),
    path("payouts", api.PayoutsApi.as_view(), name="payouts"),
    path("statements/roots", api.StatementRootsApi.as_view(), name="statement-roots"),
    path(
        "earnings/statements/<str:period>",
        api.EarningsStatementApi.as_view(),
        name="earnings-statement",
    ),
]
