from django.urls import path

from payouts import api

app_name = "payouts"

urlpatterns = [
    path("earnings", api.EarningsApi.as_view(), name="earnings"),
    path("payouts", api.PayoutsApi.as_view(), name="payouts"),
]
