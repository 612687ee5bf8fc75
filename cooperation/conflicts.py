"""Conflict cases: raised by a party of an agreement or a member of a network;
they go through the owner's escalation steps (each with a deadline, reminded
by the daily job) until resolved, mediated or closed without agreement."""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import access
from .choices import ConflictStatus
from .models import Agreement, AgreementParty, ConflictCase, EscalationStep, Network, NetworkMember


class ConflictError(ValueError):
    """Not allowed (German message)."""


def steps_of(case_or_owner) -> list[EscalationStep]:
    owner = case_or_owner.owner if isinstance(case_or_owner, ConflictCase) else case_or_owner
    return list(owner.escalation_steps.order_by("order"))


def eligible_organizations(owner, user):
    """The organisations ``user`` may raise a conflict for under ``owner``:
    parties of the agreement / members and the coordinator of the network, of
    which the user is an editor (planners: all of them)."""
    from .models import Organization

    if isinstance(owner, Agreement):
        ids = set(AgreementParty.objects.filter(agreement=owner).values_list("organization_id", flat=True))
    else:
        ids = set(NetworkMember.objects.filter(network=owner).values_list("organization_id", flat=True))
        if owner.coordinator_id:
            ids.add(owner.coordinator_id)
    if not access.is_planner(user):
        ids &= set(access.organization_ids(user, editor=True))
    return list(Organization.objects.filter(pk__in=ids).order_by("name"))


def _enter(case: ConflictCase, step: EscalationStep | None, today: datetime.date) -> None:
    case.step = step
    case.step_started = today if step else None
    case.step_due = today + datetime.timedelta(days=step.days) if step else None


@transaction.atomic
def raise_conflict(owner: Agreement | Network, organization, *, subject: str, description: str, user,
                   today: datetime.date | None = None) -> ConflictCase:
    if organization not in eligible_organizations(owner, user):
        raise ConflictError(_("Einen Konflikt bringt eine beteiligte Organisation ein (für %(org)s dürfen Sie das "
                              "nicht).") % {"org": organization.name})
    case = ConflictCase(raised_by=organization, subject=subject.strip(), description=description.strip(),
                        **({"agreement": owner} if isinstance(owner, Agreement) else {"network": owner}))
    steps = steps_of(owner)
    _enter(case, steps[0] if steps else None, today or timezone.localdate())
    case.stamp(user)
    case.full_clean()
    case.save()
    return case


def _lock(case: ConflictCase, user) -> ConflictCase:
    if not ConflictCase.objects.for_user(user, "change").filter(pk=case.pk).exists():
        raise ConflictError(_("Diesen Konfliktfall dürfen Sie nicht bearbeiten."))
    case = ConflictCase.objects.select_for_update(of=("self",)).select_related("agreement", "network", "step").get(
        pk=case.pk)
    if case.status != ConflictStatus.OPEN:
        raise ConflictError(_("Der Konfliktfall ist abgeschlossen."))
    return case


def next_step(case: ConflictCase) -> EscalationStep | None:
    steps = steps_of(case)
    if case.step is None:
        return None
    later = [s for s in steps if s.order > case.step.order]
    return later[0] if later else None


@transaction.atomic
def escalate(case: ConflictCase, user, today: datetime.date | None = None) -> ConflictCase:
    """To the next escalation step, with a new deadline."""
    case = _lock(case, user)
    step = next_step(case)
    if step is None:
        raise ConflictError(_("Die letzte Stufe des Verfahrens ist erreicht; der Fall kann nur noch abgeschlossen "
                              "werden."))
    _enter(case, step, today or timezone.localdate())
    case.stamp(user)
    case.save(update_fields=["step", "step_started", "step_due", "updated_at", "updated_by"])
    return case


@transaction.atomic
def close(case: ConflictCase, status: str, outcome: str, user) -> ConflictCase:
    """Resolved, mediated or ended without agreement, with the outcome."""
    case = _lock(case, user)
    if status not in (ConflictStatus.RESOLVED, ConflictStatus.MEDIATED, ConflictStatus.UNRESOLVED):
        raise ConflictError(_("Unbekannter Abschluss."))
    outcome = (outcome or "").strip()
    if not outcome:
        raise ConflictError(_("Das Ergebnis fehlt."))
    case.status, case.outcome, case.closed_at = status, outcome, timezone.now()
    case.stamp(user)
    case.save(update_fields=["status", "outcome", "closed_at", "updated_at", "updated_by"])
    return case
