"""Staff roles: the groups `reviewer`, `finance` and `support`, and the custom permissions the
admin checks (`request.user.has_perm("<app>.<codename>")`).

A data migration only: the permissions are created here (with their content types) rather than
in the models' Meta, so no app's schema history changes. The default view/change permissions a
group needs are created here too, because Django only creates them after the last migration
(post_migrate) and the groups need them now. Idempotent (get_or_create); `staff_groups_apply`
is also what tests call after a transactional test flushed the tables."""

from django.db import migrations

# (app_label, model, codename, name): the permissions the admin checks by name.
CUSTOM_PERMISSIONS = [
    ("marketplace", "organization", "decide_upload_access", "Can decide upload access"),
    ("marketplace", "submission", "review_submission", "Can approve or reject submissions"),
    ("marketplace", "submission", "rerun_checks", "Can re-run the ingestion checks"),
    ("marketplace", "dataset", "takedown_dataset", "Can take a dataset down"),
    ("licensing", "order", "refund_order", "Can refund an order"),
    ("payouts", "ledgeraccount", "view_finance_overview", "Can view the finance overview"),
    ("payouts", "payoutrun", "execute_payoutrun", "Can execute payout runs"),
    ("payouts", "reconciliationreport", "run_reconciliation", "Can run reconciliation"),
    ("payouts", "ledgeraccount", "export_statements", "Can export statements"),
]


def _view(*labels):
    return [f"{label.split('.')[0]}.view_{label.split('.')[1]}" for label in labels]


GROUPS = {
    # Upload access, the review queue, check re-runs, takedowns, custom-license flags.
    "reviewer": [
        "marketplace.decide_upload_access",
        "marketplace.review_submission",
        "marketplace.rerun_checks",
        "marketplace.takedown_dataset",
        "marketplace.change_submission",
        "marketplace.change_dataset",
        "licensing.change_license",
        *_view(
            "marketplace.organization",
            "marketplace.submission",
            "marketplace.dataset",
            "marketplace.datasetversion",
            "marketplace.fileupload",
            "marketplace.checkrun",
            "marketplace.checkresult",
            "licensing.license",
            "licensing.accessrequest",
        ),
    ],
    # Orders, refunds, disputes (order fields), payout runs, reconciliation, ledger, statements.
    "finance": [
        "licensing.refund_order",
        "payouts.view_finance_overview",
        "payouts.execute_payoutrun",
        "payouts.run_reconciliation",
        "payouts.export_statements",
        *_view(
            "licensing.order",
            "licensing.grant",
            "payouts.ledgeraccount",
            "payouts.journaltransaction",
            "payouts.entry",
            "payouts.payoutrun",
            "payouts.payoutline",
            "payouts.reconciliationreport",
            "contributors.payee",
            "contributors.payoutaccount",
            "marketplace.stripeevent",
        ),
    ],
    # Read-only help desk: no secrets are shown by these admins (key hashes are excluded).
    "support": _view(
        "marketplace.organization",
        "marketplace.membership",
        "marketplace.apikey",
        "licensing.downloadsession",
        "licensing.accessrequest",
    ),
}


def staff_groups_apply(apps, schema_editor=None):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    def content_type(app_label, model):
        return ContentType.objects.get_or_create(app_label=app_label, model=model)[0]

    for app_label, model, codename, name in CUSTOM_PERMISSIONS:
        Permission.objects.get_or_create(
            content_type=content_type(app_label, model),
            codename=codename,
            defaults={"name": name},
        )
    custom = {(app_label, codename) for app_label, _, codename, _ in CUSTOM_PERMISSIONS}
    for group_name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        rows = []
        for perm in perms:
            app_label, codename = perm.split(".")
            action, _, model = codename.partition("_")
            if (app_label, codename) not in custom:
                # A default permission ("view_<model>", "change_<model>").
                verbose = apps.get_model(app_label, model)._meta.verbose_name_raw
                rows.append(
                    Permission.objects.get_or_create(
                        content_type=content_type(app_label, model),
                        codename=codename,
                        defaults={"name": f"Can {action} {verbose}"},
                    )[0]
                )
            else:
                # Every row of that name in the app (one, unless a model's Meta declares it too).
                rows.extend(
                    Permission.objects.filter(content_type__app_label=app_label, codename=codename)
                )
        group.permissions.add(*rows)


def staff_groups_remove(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.filter(name__in=GROUPS).delete()
    for app_label, _, codename, _ in CUSTOM_PERMISSIONS:
        Permission.objects.filter(content_type__app_label=app_label, codename=codename).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("marketplace", "0009_organization_invitation"),
        ("contributors", "0003_share_table_draft"),
        ("licensing", "0004_one_open_order_per_dataset"),
        ("payouts", "0003_payout_runs"),
    ]

    operations = [migrations.RunPython(staff_groups_apply, staff_groups_remove)]
