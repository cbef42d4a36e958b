from django.apps import AppConfig


class ContributorsConfig(AppConfig):
    name = "contributors"
    default_auto_field = "django.db.models.BigAutoField"
