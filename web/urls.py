from django.urls import path

from web.views import home, keys, organizations, submission_files, submissions

app_name = "web"

urlpatterns = [
    path("", home.home, name="home"),
    path("dashboard", home.dashboard, name="dashboard"),
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
        "submissions/<str:submission_id>/submit",
        submissions.submission_submit,
        name="submission_submit",
    ),
    path(
        "submissions/<str:submission_id>/delete",
        submissions.submission_delete,
        name="submission_delete",
    ),
]
