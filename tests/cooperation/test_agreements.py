"""Agreements: who may make which transition, confirmation by a member of each
party, activation only when all confirmed and started, expiry by date, access."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from cooperation import agreements
from cooperation.agreements import TransitionError
from cooperation.choices import AgreementStatus as S
from cooperation.models import Agreement, AgreementParty, EscalationStep
from core.access import Action
from core.audit import history
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


@pytest.fixture
def funder(db):
    return OrganizationFactory(name="Jugendamt Teststadt", kind="public_funder", umbrella="none")


@pytest.fixture
def funder_staff(funder):
    user = UserFactory(username="jugendamt")
    MembershipFactory(user=user, organization=funder, role="editor")
    return user


@pytest.fixture
def agreement(funder, org_a, org_b):
    agreement = Agreement.objects.create(title="Kooperation Nord", kind="cooperation", valid_from=TODAY,
                                         valid_until=TODAY + datetime.timedelta(days=365))
    AgreementParty.objects.create(agreement=agreement, organization=funder, role="funder")
    AgreementParty.objects.create(agreement=agreement, organization=org_a, role="lead")
    AgreementParty.objects.create(agreement=agreement, organization=org_b, role="partner")
    EscalationStep.objects.create(agreement=agreement, order=1, handled_by="Sozialraumteam", days=14)
    return agreement


def party(agreement, org):
    return agreement.parties.get(organization=org)


class TestLifecycle:
    def test_negotiation_then_active_when_every_party_confirmed(
            self, agreement, funder, org_a, org_b, funder_staff, provider_editor_a, provider_editor_b):
        agreements.transition(agreement, S.NEGOTIATION, provider_editor_a)  # the lead provider proposes
        agreement.refresh_from_db()
        assert agreement.status == S.NEGOTIATION
        agreements.confirm(party(agreement, funder), funder_staff)
        agreements.confirm(party(agreement, org_a), provider_editor_a)
        agreement.refresh_from_db()
        assert agreement.status == S.NEGOTIATION  # B has not confirmed yet
        agreements.confirm(party(agreement, org_b), provider_editor_b)
        agreement.refresh_from_db()
        assert agreement.status == S.ACTIVE
        confirmed = party(agreement, org_b)
        assert confirmed.confirmed_by == provider_editor_b and confirmed.confirmed_at is not None

    def test_only_members_confirm_for_their_party(self, agreement, org_b, planner, provider_editor_a):
        agreements.transition(agreement, S.NEGOTIATION, planner)
        for user in (provider_editor_a, planner):  # another party's staff, a planner without membership
            with pytest.raises(TransitionError, match="bestätigt nur, wer diese Organisation bearbeiten darf"):
                agreements.confirm(party(agreement, org_b), user)
        assert party(agreement, org_b).confirmed_at is None

    def test_a_future_start_waits_for_the_daily_job(self, agreement, funder, org_a, org_b, planner, funder_staff,
                                                    provider_editor_a, provider_editor_b):
        Agreement.objects.filter(pk=agreement.pk).update(valid_from=TODAY + datetime.timedelta(days=10))
        agreement.refresh_from_db()
        agreements.transition(agreement, S.NEGOTIATION, planner)
        for org, user in ((funder, funder_staff), (org_a, provider_editor_a), (org_b, provider_editor_b)):
            agreements.confirm(party(agreement, org), user)
        agreement.refresh_from_db()
        assert agreement.status == S.NEGOTIATION
        assert agreements.apply_dates(TODAY + datetime.timedelta(days=9)) == {"activated": 0, "expired": 0}
        assert agreements.apply_dates(TODAY + datetime.timedelta(days=10)) == {"activated": 1, "expired": 0}
        agreement.refresh_from_db()
        assert agreement.status == S.ACTIVE
        assert agreements.apply_dates(TODAY + datetime.timedelta(days=400)) == {"activated": 0, "expired": 1}
        agreement.refresh_from_db()
        assert agreement.status == S.EXPIRED

    def test_transitions_per_role(self, agreement, planner, provider_editor_a, provider_editor_b, viewer):
        with pytest.raises(TransitionError, match="Planung und der federführende Träger"):
            agreements.transition(agreement, S.NEGOTIATION, provider_editor_b)  # a partner, not the lead
        with pytest.raises(TransitionError, match="Planung und der federführende Träger"):
            agreements.transition(agreement, S.NEGOTIATION, viewer)
        with pytest.raises(TransitionError, match="keinen Übergang"):
            agreements.transition(agreement, S.ACTIVE, planner)  # never by hand from a draft
        agreements.transition(agreement, S.NEGOTIATION, provider_editor_a)
        assert agreements.allowed_transitions(Agreement.objects.get(pk=agreement.pk), provider_editor_a) == []
        assert set(agreements.allowed_transitions(Agreement.objects.get(pk=agreement.pk), planner)) == {
            S.DRAFT, S.TERMINATED}
        with pytest.raises(TransitionError, match="nur die Planung"):
            agreements.transition(agreement, S.DRAFT, provider_editor_a)

    def test_back_to_draft_clears_confirmations(self, agreement, org_a, planner, provider_editor_a):
        agreements.transition(agreement, S.NEGOTIATION, planner)
        agreements.confirm(party(agreement, org_a), provider_editor_a)
        agreements.transition(agreement, S.DRAFT, planner)
        assert not AgreementParty.objects.filter(agreement=agreement).exclude(confirmed_at=None).exists()

    def test_suspend_resume_terminate(self, agreement, funder, org_a, org_b, planner, funder_staff,
                                      provider_editor_a, provider_editor_b):
        agreements.transition(agreement, S.NEGOTIATION, planner)
        for org, user in ((funder, funder_staff), (org_a, provider_editor_a), (org_b, provider_editor_b)):
            agreements.confirm(party(agreement, org), user)
        for to in (S.SUSPENDED, S.ACTIVE, S.TERMINATED):
            agreements.transition(Agreement.objects.get(pk=agreement.pk), to, planner)
            assert Agreement.objects.get(pk=agreement.pk).status == to
        with pytest.raises(TransitionError):
            agreements.transition(Agreement.objects.get(pk=agreement.pk), S.ACTIVE, planner)

    def test_every_transition_and_confirmation_is_in_the_history(self, agreement, org_a, planner,
                                                                   provider_editor_a):
        agreements.transition(agreement, S.NEGOTIATION, planner)
        agreements.confirm(party(agreement, org_a), provider_editor_a)
        status_changes = [c for e in history(agreement) if e["label"] == "update" for c in e["changes"]
                          if c[0] == "status"]
        assert ("status", S.DRAFT, S.NEGOTIATION) in status_changes
        confirmations = [c for e in history(party(agreement, org_a)) if e["label"] == "update" for c in e["changes"]
                         if c[0] == "confirmed_by_id"]
        assert confirmations == [("confirmed_by_id", None, provider_editor_a.pk)]

    def test_an_agreement_without_parties_is_not_negotiated(self, planner):
        empty = Agreement.objects.create(title="Leer", valid_from=TODAY)
        with pytest.raises(TransitionError, match="ohne Parteien"):
            agreements.transition(empty, S.NEGOTIATION, planner)


class TestConstraintsAndAccess:
    def test_constraints(self, agreement, org_a):
        with pytest.raises(IntegrityError), transaction.atomic():
            AgreementParty.objects.create(agreement=agreement, organization=org_a, role="partner")
        with pytest.raises(IntegrityError), transaction.atomic():
            Agreement.objects.create(title="falsch", valid_from=TODAY, valid_until=TODAY - datetime.timedelta(days=1))
        with pytest.raises(IntegrityError), transaction.atomic():
            EscalationStep.objects.create(agreement=agreement, order=2, handled_by="x", days=0)

    def test_who_sees_and_changes(self, agreement, planner, viewer, provider_editor_a):
        outsider_org = OrganizationFactory(name="Dritter Träger")
        outsider = UserFactory(username="dritter")
        MembershipFactory(user=outsider, organization=outsider_org)
        assert Agreement.objects.for_user(viewer, Action.VIEW).count() == 1
        assert not Agreement.objects.for_user(viewer, Action.CHANGE).exists()
        assert Agreement.objects.for_user(provider_editor_a, Action.VIEW).count() == 1  # a party
        assert not Agreement.objects.for_user(provider_editor_a, Action.CHANGE).exists()
        assert not Agreement.objects.for_user(outsider, Action.VIEW).exists()  # not a party: does not exist
        assert Agreement.objects.for_user(planner, Action.CHANGE).count() == 1
        assert Agreement.objects.can_add(planner) and not Agreement.objects.can_add(provider_editor_a)
