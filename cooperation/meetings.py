"""Workflows of networks and their meetings, each in one transaction.

- ``save_network``: a network with its regions and fields of action;
- ``save_meeting``: a meeting with its attending organisations, the fields of
  the cases discussed (case conferences) and its task rows — all or nothing;
- ``add_task``: one follow-up task on a meeting's page;
- ``complete_task`` / ``reopen_task``: mark a task done (or open again),
  recording who did it; a row lock makes a double click harmless;
- ``is_overdue``: an open task whose due date has passed.

Who may do what is decided by the views through ``for_user`` querysets; these
functions only change rows (and stamp the author for the audit history).
"""

import datetime

from django.db import transaction
from django.utils import timezone

from .models import Meeting, MeetingTask, Network


def is_overdue(task: MeetingTask, today: datetime.date | None = None) -> bool:
    """Open and due before today."""
    return task.done_at is None and task.due < (today or timezone.localdate())


def save_network(form, user) -> Network:
    """Save a valid ``NetworkForm`` with its many-to-many relations."""
    with transaction.atomic():
        network = form.save(commit=False)
        network.stamp(user)
        network.save()
        form.save_m2m()
    return network


def save_meeting(form, task_formset, user) -> Meeting:
    """Save a valid ``MeetingForm`` and its valid task formset together: the
    meeting, its attendees and case fields, new and changed tasks, removed
    tasks. If any write fails, nothing is kept."""
    with transaction.atomic():
        meeting = form.save(commit=False)
        meeting.stamp(user)
        meeting.save()
        form.save_m2m()
        for task_form in task_formset.forms:
            if not task_form.has_changed() and task_form.instance.pk is None:
                continue  # an empty extra row
            if task_formset.can_delete and task_formset._should_delete_form(task_form):
                if task_form.instance.pk is not None:
                    task_form.instance.delete()
                continue
            if task_form.instance.pk is not None and not task_form.has_changed():
                continue
            task = task_form.save(commit=False)
            task.meeting = meeting
            task.stamp(user)
            task.save()
    return meeting


def add_task(meeting: Meeting, form, user) -> MeetingTask:
    """Save a valid ``MeetingTaskForm`` as a task of ``meeting``."""
    with transaction.atomic():
        task = form.save(commit=False)
        task.meeting = meeting
        task.stamp(user)
        task.save()
    return task


def _set_done(task: MeetingTask, user, done: bool) -> bool:
    with transaction.atomic():
        locked = MeetingTask.objects.select_for_update().get(pk=task.pk)
        if (locked.done_at is not None) == done:
            task.done_at = locked.done_at
            return False
        locked.done_at = timezone.now() if done else None
        locked.stamp(user)
        locked.save(update_fields=["done_at", "updated_at", "updated_by"])
    task.done_at, task.updated_at, task.updated_by = locked.done_at, locked.updated_at, locked.updated_by
    return True


def complete_task(task: MeetingTask, user) -> bool:
    """Mark ``task`` done now by ``user``; False if it was done already."""
    return _set_done(task, user, True)


def reopen_task(task: MeetingTask, user) -> bool:
    """Mark ``task`` open again; False if it was open."""
    return _set_done(task, user, False)
