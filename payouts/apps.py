from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from payouts import tasks  # noqa: F401 - fills the Celery registry (tasks enqueued by name)
