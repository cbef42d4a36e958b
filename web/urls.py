from django.urls import path

from web.views import (
    catalogue,
    datasets,
    home,
    keys,
    organizations,
    submission_files,
    submissions,
)
from web.views.contributor import (
    contributions_page,
    contributions_payout_account,
    contributions_statement,
)
from web.views.dataset_schema import dataset_schema
from web.views.money import money_page, money_payout_account, money_statement
from web.views.submission_shares import submission_shares
from web.views.takedowns import takedown_detail, takedown_list, takedown_notice_new
from web.views.webhooks import (
    webhook_delete,
    webhook_detail,
    webhook_enable,
    webhook_resend,
    webhooks_page,
)

app_name = "web"

urlpatterns = [
    path("", home.home, name="home"),
    path("dashboard", home.dashboard, name="dashboard"),
    # The buyer's catalogue and dataset pages (web/views/catalogue.py); `/datasets/<id>/terms`
    # (licensing.web_urls) has one more segment, so these never shadow it.
    path("datasets", catalogue.catalogue, name="catalogue"),
    path("datasets/<str:slug>", catalogue.dataset_page, name="catalogue_dataset"),
    path("datasets/<str:slug>/sample", catalogue.dataset_sample, name="catalogue_dataset_sample"),
    path("datasets/<str:slug>/takedown", takedown_notice_new, name="takedown_notice_new"),
    path("organizations/new", organizations.organization_new, name="organization_new"),
    path("organizations/switch", organizations.organization_switch, name="organization_switch"),
    path("organization", organizations.organization_page, name="organization"),
    path(
        "organization/invitations",
        organizations.organization_invite_view,
        name="organization_invite",
    ),
    path(
        "organization/invitations/<int:invitation_id>/revoke",
        organizations.organization_invitation_revoke_view,
        name="organization_invitation_revoke",
    ),
    path(
        "organization/members/<int:membership_id>/remove",
        organizations.membership_remove_view,
        name="membership_remove",
    ),
    path(
        "organization/upload-access",
        organizations.upload_access_request_view,
        name="upload_access_request",
    ),
    path("organization/keys", keys.keys_page, name="keys"),
    path("organization/keys/<int:key_id>/revoke", keys.key_revoke, name="key_revoke"),
    # Takedowns of the organisation's datasets and its webhook endpoints (issue 13).
    path("organization/takedowns", takedown_list, name="takedowns"),
    path("organization/takedowns/<str:reference>", takedown_detail, name="takedown_detail"),
    path("organization/webhooks", webhooks_page, name="webhooks"),
    path("organization/webhooks/<int:endpoint_id>", webhook_detail, name="webhook_detail"),
    path("organization/webhooks/<int:endpoint_id>/delete", webhook_delete, name="webhook_delete"),
    path("organization/webhooks/<int:endpoint_id>/enable", webhook_enable, name="webhook_enable"),
    path(
        "organization/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend",
        webhook_resend,
        name="webhook_resend",
    ),
    path("invitations/<str:token>", organizations.invitation_page, name="invitation"),
    # The submission stepper (files: web/views/submission_files.py).
    path("submissions", submissions.submission_list, name="submissions"),
    path("submissions/new", submissions.submission_new, name="submission_new"),
    path(
        "submissions/<str:submission_id>", submissions.submission_status, name="submission_status"
    ),
    path(
        "submissions/<str:submission_id>/files",
        submission_files.submission_files,
        name="submission_files",
    ),
    path(
        "submissions/<str:submission_id>/datasheet",
        submissions.submission_datasheet,
        name="submission_datasheet",
    ),
    path(
        "submissions/<str:submission_id>/license",
        submissions.submission_license,
        name="submission_license",
    ),
    path(
        "submissions/<str:submission_id>/shares",
        submission_shares,
        name="submission_shares",
    ),
    path(
        "submissions/<str:submission_id>/submit",
        submissions.submission_submit,
        name="submission_submit",
    ),
    path(
        "submissions/<str:submission_id>/delete",
        submissions.submission_delete,
        name="submission_delete",
    ),
    # The provider workspace: datasets and access requests (web/views/datasets.py).
    path("organization/datasets", datasets.dataset_list, name="datasets"),
    path("organization/datasets/<str:dataset_id>", datasets.dataset_detail, name="dataset_detail"),
    path(
        "organization/datasets/<str:dataset_id>/schema",
        dataset_schema,
        name="dataset_schema",
    ),
    path(
        "organization/datasets/<str:dataset_id>/access-settings",
        datasets.dataset_access_settings,
        name="dataset_access_settings",
    ),
    path("organization/access-requests", datasets.access_requests_page, name="access_requests"),
    path(
        "organization/access-requests/<str:request_id>/decide",
        datasets.access_request_decide_view,
        name="access_request_decide",
    ),
    # Money: the organisation's (owners) and the contributor's own (web/views/money.py,
    # web/views/contributor.py).
    path("organization/money", money_page, name="money"),
    path("organization/money/payout-account", money_payout_account, name="money_payout_account"),
    path("organization/money/statement.csv", money_statement, name="money_statement"),
    path("me/contributions", contributions_page, name="contributions"),
    path(
        "me/contributions/payout-account",
        contributions_payout_account,
        name="contributions_payout_account",
    ),
    path(
        "me/contributions/statement.csv",
        contributions_statement,
        name="contributions_statement",
    ),
]
