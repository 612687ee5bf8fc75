"""Celery tasks of cooperation: thin wrappers around the workflows."""

import datetime

from celery import shared_task

from . import reminders


@shared_task(acks_late=True, name="cooperation.send_reminders")
def send_reminders(today: str | None = None) -> dict:
    """The daily reminder job (CELERY_BEAT_SCHEDULE, 06:00 Europe/Berlin).
    ``today``: an ISO date to run for (default: the local date). Idempotent —
    a re-delivered or doubled run creates and sends nothing twice — so
    ``acks_late`` is harmless."""
    return reminders.send_reminders(datetime.date.fromisoformat(today) if today else None)
