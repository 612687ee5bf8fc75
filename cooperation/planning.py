"""Cooperative planning processes: the phases in order, closing, and the
participants' contributions to the SWOT analysis."""

from django.db import transaction
from django.utils.translation import gettext as _

from . import access
from .choices import PlanningPhase
from .models import PlanningParticipant, PlanningProcess, SwotEntry

PHASES = list(PlanningPhase.values)


class PlanningError(ValueError):
    """Not allowed (German message)."""


def neighbour_phases(process: PlanningProcess) -> tuple[str | None, str | None]:
    """(previous, next) phase, None at the ends."""
    i = PHASES.index(process.phase)
    return (PHASES[i - 1] if i else None, PHASES[i + 1] if i + 1 < len(PHASES) else None)


@transaction.atomic
def move_phase(process: PlanningProcess, to: str, user) -> PlanningProcess:
    """One phase forward or back (planners; not once closed)."""
    if not access.is_planner(user):
        raise PlanningError(_("Die Phase ändert die Planung."))
    process = PlanningProcess.objects.select_for_update().get(pk=process.pk)
    if process.closed:
        raise PlanningError(_("Der Planungsprozess ist abgeschlossen."))
    if to not in neighbour_phases(process):
        raise PlanningError(_("Phasen werden nacheinander durchlaufen (von „%(from)s“ nur zur vorigen oder "
                              "nächsten).") % {"from": PlanningPhase(process.phase).label})
    process.phase = to
    process.stamp(user)
    process.save(update_fields=["phase", "updated_at", "updated_by"])
    return process


@transaction.atomic
def close(process: PlanningProcess, user, *, reopen: bool = False) -> PlanningProcess:
    if not access.is_planner(user):
        raise PlanningError(_("Abschließen kann die Planung."))
    process = PlanningProcess.objects.select_for_update().get(pk=process.pk)
    if not reopen and process.phase != PlanningPhase.EVALUATION:
        raise PlanningError(_("Abgeschlossen wird nach der Bewertung."))
    process.closed = not reopen
    process.stamp(user)
    process.save(update_fields=["closed", "updated_at", "updated_by"])
    return process


def contributing_organizations(process: PlanningProcess, user):
    """The participating organisations ``user`` may contribute for (planners:
    every participant)."""
    participants = PlanningParticipant.objects.filter(process=process).select_related("organization")
    if not access.is_planner(user):
        participants = participants.filter(organization_id__in=access.organization_ids(user, editor=True))
    return [p.organization for p in participants]


@transaction.atomic
def add_swot(process: PlanningProcess, organization, quadrant: str, text: str, user) -> SwotEntry:
    if process.closed:
        raise PlanningError(_("Der Planungsprozess ist abgeschlossen."))
    if organization not in contributing_organizations(process, user):
        raise PlanningError(_("Beiträge bringen beteiligte Organisationen ein (für %(org)s dürfen Sie das nicht).")
                            % {"org": organization.name})
    text = (text or "").strip()
    if not text:
        raise PlanningError(_("Der Eintrag ist leer."))
    entry = SwotEntry(process=process, organization=organization, quadrant=quadrant, text=text)
    entry.stamp(user)
    entry.full_clean()
    entry.save()
    return entry
