from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from marketplace import (
            schema,  # noqa: F401 - registers the OpenAPI auth extension
            tasks,  # noqa: F401 - fills the Celery registry (tasks enqueued by name)
        )
        from marketplace.events import tasks as event_tasks  # noqa: F401 - outbound events
        from marketplace.observability import tasks as observability  # noqa: F401 - task signals
