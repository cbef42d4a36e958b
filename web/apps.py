import importlib

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def staff_groups_ensure(sender, apps=None, **kwargs):
    """After every migrate (and every flush, which ends the same way) the staff groups and
    their permissions exist: a flushed test database or a database whose groups were deleted by
    hand gets them back (idempotent; the data migration made them first)."""
    if apps is None:
        from django.apps import apps
    migration = importlib.import_module("web.migrations.0001_staff_groups")
    try:
        migration.staff_groups_apply(apps)
    except LookupError:
        pass  # a partial migrate: a model the groups name is not there yet; the migration will be


class WebConfig(AppConfig):
    """The site shell above the four apps: base layout, home, dashboards, account and
    organisation pages, static and vendored front-end files (DESIGN.md, layout)."""

    name = "web"
    verbose_name = "Web"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Sent per app with models; this app has none, so hang it on auth's (which holds Group).
        post_migrate.connect(
            staff_groups_ensure,
            sender=self.apps.get_app_config("auth"),
            dispatch_uid="staff_groups_ensure",
        )
