from django.apps import AppConfig


class WebConfig(AppConfig):
    """The site shell above the four apps: base layout, home, dashboards, account and
    organisation pages, static and vendored front-end files (DESIGN.md, layout)."""

    name = "web"
    verbose_name = "Web"
    default_auto_field = "django.db.models.BigAutoField"
