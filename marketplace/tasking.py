"""Enqueue Celery tasks by name, so services never import the task modules that import them.

Tasks call services; services enqueue tasks by their registered name (`<app>.tasks.<function>`),
after commit when they run inside a transaction. Each app's `AppConfig.ready()` imports its own
`tasks` module, so every process (web, worker, beat, shell) has the registry filled. Looking the
task up in the app's registry rather than using `send_task` keeps `CELERY_TASK_ALWAYS_EAGER`
(tests, demo seeding) working: the task runs in-process like `.delay()` would.
"""

from celery import current_app
from django.db import transaction


def task_enqueue(name: str, *args) -> None:
    """Send the task now (outside a transaction, or when the send must not wait for commit)."""
    current_app.tasks[name].delay(*args)


def task_enqueue_on_commit(name: str, *args) -> None:
    """Send the task once the current transaction commits (ids, not objects); nothing is sent
    if it rolls back."""
    transaction.on_commit(lambda: task_enqueue(name, *args))
