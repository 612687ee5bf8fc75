"""Triage of need reports by planners: new → in review → taken into planning
(optionally into a planning process) or declined with a reason. The reporter
sees the status; every step is in the audit history."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import access
from .choices import NeedStatus as S
from .models import NeedReport, PlanningProcess

TRIAGE = {
    S.NEW: {S.IN_REVIEW, S.PLANNED, S.DECLINED},
    S.IN_REVIEW: {S.PLANNED, S.DECLINED, S.NEW},
    S.DECLINED: {S.IN_REVIEW},
    S.PLANNED: set(),
}


class TriageError(ValueError):
    """A triage step that is not allowed (German message)."""


def next_statuses(report: NeedReport) -> list[str]:
    return [s for s in S.values if s in TRIAGE[report.status]]


@transaction.atomic
def triage(report: NeedReport, to: str, user, *, reason: str = "", process: PlanningProcess | None = None) -> NeedReport:
    if not access.is_planner(user):
        raise TriageError(_("Bedarfsmeldungen bearbeitet die Planung."))
    report = NeedReport.objects.select_for_update().get(pk=report.pk)
    if to not in TRIAGE[report.status]:
        raise TriageError(_("Von „%(from)s“ nach „%(to)s“ geht es nicht.") % {"from": S(report.status).label,
                                                                               "to": S(to).label})
    reason = (reason or "").strip()
    if to == S.DECLINED and not reason:
        raise TriageError(_("Für die Ablehnung fehlt die Begründung."))
    if process is not None and PlanningProcess.objects.filter(pk=process.pk, closed=True).exists():
        raise TriageError(_("Der Planungsprozess „%(title)s“ ist abgeschlossen.") % {"title": process.title})
    report.status = to
    report.decline_reason = reason if to == S.DECLINED else ""
    report.triaged_at, report.triaged_by = timezone.now(), user
    report.stamp(user)
    report.save(update_fields=["status", "decline_reason", "triaged_at", "triaged_by", "updated_at", "updated_by"])
    if to == S.PLANNED and process is not None:
        process.need_reports.add(report)
    return report
