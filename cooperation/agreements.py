"""The lifecycle of an agreement: which transitions exist, who may make them,
confirmation by the parties, and activation/expiry by date.

    draft ──▶ negotiation ──(every party confirmed, start reached)──▶ active
      ▲            │                                                 │   ▲
      └────────────┘                                       suspended ◀┘   │
                                                               └──────────┘
    active / suspended ──▶ terminated;  active ──(end date passed)──▶ expired

Every change is a row update of Agreement/AgreementParty, so the audit history
(pghistory) records each transition and confirmation with its author.
"""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import access
from .choices import AgreementStatus as S
from .choices import PartyRole
from .models import Agreement, AgreementParty


class TransitionError(ValueError):
    """A transition that is not allowed (the message is German)."""


PLANNER, LEAD = "planner", "lead"
#: (from, to) → who may make it by hand; activation and expiry happen by date
TRANSITIONS = {
    (S.DRAFT, S.NEGOTIATION): {PLANNER, LEAD},
    (S.NEGOTIATION, S.DRAFT): {PLANNER},
    (S.ACTIVE, S.SUSPENDED): {PLANNER},
    (S.SUSPENDED, S.ACTIVE): {PLANNER},
    (S.ACTIVE, S.TERMINATED): {PLANNER},
    (S.SUSPENDED, S.TERMINATED): {PLANNER},
    (S.NEGOTIATION, S.TERMINATED): {PLANNER},
}


def actor_roles(agreement: Agreement, user) -> set[str]:
    roles = set()
    if access.is_planner(user):
        roles.add(PLANNER)
    editor_orgs = access.organization_ids(user, editor=True)
    if agreement.parties.filter(role=PartyRole.LEAD, organization_id__in=editor_orgs).exists():
        roles.add(LEAD)
    return roles


def allowed_transitions(agreement: Agreement, user) -> list[str]:
    roles = actor_roles(agreement, user)
    return [to for (frm, to), who in TRANSITIONS.items() if frm == agreement.status and who & roles]


@transaction.atomic
def transition(agreement: Agreement, to: str, user) -> Agreement:
    """Move ``agreement`` to status ``to`` by hand, if ``user`` may."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    who = TRANSITIONS.get((agreement.status, to))
    if who is None:
        raise TransitionError(_("Von „%(from)s“ nach „%(to)s“ gibt es keinen Übergang.") % {
            "from": S(agreement.status).label, "to": S(to).label})
    if not who & actor_roles(agreement, user):
        raise TransitionError(_("Diesen Übergang darf nur die Planung vornehmen.") if who == {PLANNER} else
                              _("Diesen Übergang dürfen die Planung und der federführende Träger vornehmen."))
    if to == S.NEGOTIATION and not agreement.parties.exists():
        raise TransitionError(_("Eine Vereinbarung ohne Parteien kann nicht verhandelt werden."))
    if to == S.ACTIVE and not all_confirmed(agreement):
        raise TransitionError(_("Aktiv wird eine Vereinbarung erst, wenn alle Parteien bestätigt haben."))
    if to in (S.DRAFT, S.NEGOTIATION):
        withdraw_confirmations(agreement)  # a changed draft must be confirmed again
    agreement.status = to
    agreement.stamp(user)
    agreement.save(update_fields=["status", "updated_at", "updated_by"])
    if to == S.NEGOTIATION:
        activate_if_ready(agreement)
    return agreement


def withdraw_confirmations(agreement: Agreement) -> int:
    """Every party's confirmation is withdrawn (the agreement changed while
    being negotiated, so it must be confirmed again). Returns how many were;
    the withdrawal is in the parties' audit history."""
    return AgreementParty.objects.filter(agreement=agreement).exclude(confirmed_at=None).update(
        confirmed_at=None, confirmed_by=None)


def all_confirmed(agreement: Agreement) -> bool:
    parties = list(agreement.parties.values_list("confirmed_at", flat=True))
    return bool(parties) and all(parties)


@transaction.atomic
def confirm(party: AgreementParty, user) -> AgreementParty:
    """A member (editor) of the party's organisation confirms the agreement for
    it; while it is being negotiated. The last confirmation activates it once
    the start date is reached."""
    party = AgreementParty.objects.select_for_update().select_related("agreement", "organization").get(pk=party.pk)
    if party.agreement.status != S.NEGOTIATION:
        raise TransitionError(_("Bestätigt wird eine Vereinbarung, solange sie verhandelt wird."))
    if party.organization_id not in access.organization_ids(user, editor=True):
        raise TransitionError(_("Für %(org)s bestätigt nur, wer diese Organisation bearbeiten darf.") % {
            "org": party.organization.name})
    if party.confirmed_at is None:
        party.confirmed_at, party.confirmed_by = timezone.now(), user
        party.save(update_fields=["confirmed_at", "confirmed_by"])
    activate_if_ready(party.agreement)
    return party


def activate_if_ready(agreement: Agreement, today: datetime.date | None = None) -> bool:
    """Negotiated, confirmed by every party and started: active."""
    today = today or timezone.localdate()
    if agreement.status == S.NEGOTIATION and all_confirmed(agreement) and agreement.valid_from <= today:
        agreement.status = S.ACTIVE
        agreement.save(update_fields=["status", "updated_at"])
        return True
    return False


@transaction.atomic
def apply_dates(today: datetime.date | None = None) -> dict[str, int]:
    """The daily job: confirmed agreements whose start is reached become
    active; active ones past their end expire. Returns the counts."""
    today = today or timezone.localdate()
    activated = sum(activate_if_ready(a, today) for a in Agreement.objects.select_for_update().filter(
        status=S.NEGOTIATION, valid_from__lte=today))
    expired = Agreement.objects.filter(status__in=[S.ACTIVE, S.SUSPENDED], valid_until__lt=today).update(
        status=S.EXPIRED, updated_at=timezone.now())
    return {"activated": activated, "expired": expired}
