"""A small world for the permission matrix (tests/test_permission_matrix.py):
the personas of tests/conftest.py and one object of every kind a route needs,
each placed so that access shows.

Tree (levels land → bezirk → planungsraum), as in conftest::

    CITY "Teststadt"
      ├─ D1 "Nord"  ├─ P11, P12
      └─ D2 "Süd"   └─ P21

Personas (as in conftest): planner (everywhere), region_lead (of D1), viewer
(everywhere), provider_a / provider_b (editors of org_a / org_b); plus the two
integration tokens of the matrix: a planner's read-only token without an
organisation and provider A's write token for org_a.

Everything provider-owned belongs to org_a (private where the model has a
``public`` flag) and lies in P11 (inside the region lead's D1), so one object
per route shows provider A's rights, provider B's 404 and the staff roles'
read/change split at once. Objects in D2 exist where a route needs one outside
the region lead's subtree.
"""

import datetime
from decimal import Decimal as D
from types import SimpleNamespace

from django.core.files.base import ContentFile
from django.utils import timezone

from core.access import Role

from .factories import (
    AgreementFactory,
    AgreementPartyFactory,
    ConflictCaseFactory,
    EscalationStepFactory,
    FieldOfActionFactory,
    GoalFactory,
    ImportRunFactory,
    IndicatorFactory,
    IndicatorValueFactory,
    LocationFactory,
    MeetingFactory,
    MeetingTaskFactory,
    MembershipFactory,
    NeedReportFactory,
    NetworkFactory,
    NetworkMemberFactory,
    OrganizationFactory,
    PlanningParticipantFactory,
    PlanningProcessFactory,
    RegionFactory,
    RegionLevelFactory,
    RoleAssignmentFactory,
    ServiceFactory,
    TargetGroupFactory,
    UserFactory,
)

MSS_CLASSES = [
    {"label": "hoch", "lower": None, "lower_inclusive": True, "upper": D("-1"), "upper_inclusive": False},
    {"label": "mittel", "lower": D("-1"), "lower_inclusive": True, "upper": D("1"), "upper_inclusive": True},
    {"label": "niedrig", "lower": D("1"), "lower_inclusive": False, "upper": None, "upper_inclusive": False},
]


def build() -> SimpleNamespace:
    """Creates the world (inside the caller's transaction) and returns it."""
    from budgets.choices import RulePart, SplitMode, TermKind
    from budgets.models import AllocationRule, Budget, Expenditure, ProviderShare, RuleTerm
    from budgets.providers import recompute as recompute_provider_allocations
    from budgets.services import adopt, run_allocation
    from cooperation.choices import AgreementStatus, NetworkRole, PartyRole, PlanningRole
    from cooperation.models import AgreementDocument, IntegrationToken, PlanningDecision, SwotEntry
    from core.models import Notification
    from regions.indices import save_definition

    w = SimpleNamespace()

    # --- regions (conftest's ``levels`` and ``tree``) -------------------------------------
    levels = {
        "land": RegionLevelFactory(key="land", name="Land", rank=0),
        "bezirk": RegionLevelFactory(key="bezirk", name="Bezirk", rank=1),
        "planungsraum": RegionLevelFactory(key="planungsraum", name="Planungsraum", rank=2),
    }
    city = RegionFactory(code="CITY", name="Teststadt", level=levels["land"])
    d1 = RegionFactory(code="D1", name="Nord", level=levels["bezirk"], parent=city)
    d2 = RegionFactory(code="D2", name="Süd", level=levels["bezirk"], parent=city)
    w.regions = {
        "CITY": city, "D1": d1, "D2": d2,
        "P11": RegionFactory(code="P11", name="Nord-West", level=levels["planungsraum"], parent=d1),
        "P12": RegionFactory(code="P12", name="Nord-Ost", level=levels["planungsraum"], parent=d1),
        "P21": RegionFactory(code="P21", name="Süd-Mitte", level=levels["planungsraum"], parent=d2),
    }
    w.levels = levels
    p11, p21 = w.regions["P11"], w.regions["P21"]

    # --- personas (conftest's) -------------------------------------------------------------
    w.planner = UserFactory(username="planner")
    RoleAssignmentFactory(user=w.planner, role=Role.PLANNER, region=None)
    w.region_lead = UserFactory(username="region_lead")
    RoleAssignmentFactory(user=w.region_lead, role=Role.REGION_LEAD, region=d1)
    w.viewer = UserFactory(username="viewer")
    RoleAssignmentFactory(user=w.viewer, role=Role.VIEWER, region=None)
    w.org_a = OrganizationFactory(name="Träger A e. V.")
    w.org_b = OrganizationFactory(name="Träger B gGmbH", umbrella="diakonie", legal_form="ggmbh")
    w.org_a.regions.set([p11])
    w.provider_a = UserFactory(username="provider_a")
    w.membership_a = MembershipFactory(user=w.provider_a, organization=w.org_a, role="editor")
    w.provider_b = UserFactory(username="provider_b")
    MembershipFactory(user=w.provider_b, organization=w.org_b, role="editor")
    # an account without any role or membership (the privacy pages act on it)
    w.other_user = UserFactory(username="former_staff")

    # integration tokens: the matrix personas, and a spare one the revoke routes act on
    w.read_token, w.read_secret = IntegrationToken.issue(owner=w.planner, name="Statistik", scope="read")
    w.write_token, w.write_secret = IntegrationToken.issue(owner=w.provider_a, name="Sturmzugang", scope="write",
                                                           organization=w.org_a)
    w.spare_token, _ = IntegrationToken.issue(owner=w.provider_a, name="Sturmzugang alt", scope="read", organization=w.org_a)

    # --- catalogues ----------------------------------------------------------------------
    w.field = FieldOfActionFactory(key="matrix-feld", name="Matrixfeld")
    w.target_group = TargetGroupFactory(key="matrix-gruppe", name="Matrixgruppe")
    w.kinder = IndicatorFactory(key="kinder", name="Kinder", rollup="none")
    w.anteil = IndicatorFactory(key="anteil", name="Anteil", unit="%", rollup="none")
    for code, value in (("P11", 1), ("P12", 1), ("P21", 2)):
        IndicatorValueFactory(indicator=w.kinder, region=w.regions[code], period="2022", value=value)
        IndicatorValueFactory(indicator=w.anteil, region=w.regions[code], period="2022", value=value * 10)
    w.value_p11 = w.kinder.values.get(region=p11)
    w.value_p21 = w.kinder.values.get(region=p21)
    w.index = save_definition(None, {"key": "sozialindex", "name": "Sozialindex",
                                     "scope_level": levels["planungsraum"]},
                              [{"indicator": w.anteil, "weight": 1}], MSS_CLASSES, user=w.planner)
    w.import_run = ImportRunFactory(created_by=w.planner)

    # --- organisations, places, offerings -------------------------------------------------
    w.location_a = LocationFactory(organization=w.org_a, name="Familienzentrum Nord")
    w.service_a = ServiceFactory(organization=w.org_a, name="Erziehungsberatung Nord", fields=[w.field],
                                 target_groups=[w.target_group], regions=[p11], locations=[w.location_a])
    w.service_a_inactive = ServiceFactory(organization=w.org_a, name="Nebelcafe", status="inactive",
                                          fields=[w.field], regions=[p11])
    w.service_b = ServiceFactory(organization=w.org_b, name="Schuldnerberatung Süd", fields=[w.field],
                                 regions=[p21])

    # --- an agreement under negotiation: A leads it, B is no party; private --------------
    w.agreement = AgreementFactory(title="Vereinbarung Nordlicht", status=AgreementStatus.NEGOTIATION, public=False,
                                   regions=[p11], fields=[w.field], services=[w.service_a])
    w.party_a = AgreementPartyFactory(agreement=w.agreement, organization=w.org_a, role=PartyRole.LEAD,
                                      budget_share=D(40))
    w.agreement_step = EscalationStepFactory(agreement=w.agreement, order=1, handled_by="Lenkungskreis Nordlicht")
    w.document = AgreementDocument(agreement=w.agreement, title="Vertrag Nordlicht", original_name="vertrag.pdf",
                                   content_type="application/pdf", size=9)
    w.document.file.save("vertrag.pdf", ContentFile(b"%PDF-1.4\n"), save=False)
    w.document.save()
    w.goal = GoalFactory(agreement=w.agreement, title="Ziel Nordlicht", indicator=w.kinder, region=p11)

    # --- a private network coordinated by A, with a meeting and a task for A --------------
    w.network = NetworkFactory(name="Netzwerk Polarstern", public=False, coordinator=w.org_a, regions=[p11],
                               fields=[w.field])
    w.network_member_a = NetworkMemberFactory(network=w.network, organization=w.org_a, role=NetworkRole.COORDINATION)
    w.network_step = EscalationStepFactory(agreement=None, network=w.network, order=1)
    w.meeting = MeetingFactory(network=w.network, attendees=[w.org_a], agenda="Tagesordnung Polarstern")
    w.task = MeetingTaskFactory(meeting=w.meeting, responsible=w.org_a, title="Aufgabe Polarstern")

    # --- need report, planning process, conflict case -------------------------------------
    w.need_report = NeedReportFactory(reporter=w.org_a, region=p11, field=w.field, title="Bedarf Morgenrot")
    w.process = PlanningProcessFactory(title="Planung Abendrot", regions=[p11], fields=[w.field])
    w.participant_a = PlanningParticipantFactory(process=w.process, organization=w.org_a, role=PlanningRole.PARTICIPANT)
    w.swot_a = SwotEntry.objects.create(process=w.process, organization=w.org_a, quadrant="strength",
                                        text="Abendrot: gut vernetzte Familienzentren.")
    w.decision = PlanningDecision.objects.create(process=w.process, decided_on=datetime.date(2026, 3, 1),
                                                 text="Abendrot: zweite Beratungsstelle prüfen.", responsible=w.org_a)
    w.conflict = ConflictCaseFactory(agreement=w.agreement, raised_by=w.org_a, subject="Gewitterfall")

    # --- a budget over P11, P12, P21 (conftest's ``budget``), computed and adopted ----------
    w.budget = Budget.objects.create(name="Jugendhilfe", fiscal_year=2027, field=w.field, scope_region=city,
                                     target_level=levels["planungsraum"], total=D("1000.00"),
                                     split_mode=SplitMode.PERCENT, case_specific=D(70), case_overarching=D(10),
                                     preventive=D(20))
    w.rule = AllocationRule.objects.create(budget=w.budget, part=RulePart.ALL)
    RuleTerm.objects.create(rule=w.rule, kind=TermKind.INDICATOR, weight=D(1), indicator=w.kinder)
    w.run = run_allocation(w.budget.pk)
    adopt(w.run, w.planner)
    w.share_a = ProviderShare.objects.create(budget=w.budget, region=p11, part="case_specific",
                                             organization=w.org_a, share=D(40))
    recompute_provider_allocations(w.budget.pk)
    w.provider_allocation_a = w.budget.provider_allocations.filter(organization=w.org_a).order_by("pk").first()
    w.expenditure_a = Expenditure.objects.create(
        budget=w.budget, region=p11, organization=w.org_a, part="preventive", category="Hagelkosten",
        booking_date=datetime.date(2027, 3, 15), amount=D("777.77"), text="Elternabende Hagel")

    # --- notifications: one for every persona; routes act on provider A's -----------------
    for user in (w.planner, w.region_lead, w.viewer, w.provider_a, w.provider_b):
        title = "Regenbogenhinweis" if user is w.provider_a else "Überprüfung fällig"
        note = Notification.objects.create(user=user, kind="agreement-review", event_key=f"matrix:{user.pk}",
                                           title=title, text="Bitte prüfen.", url="/kooperation/vereinbarungen/",
                                           created_at=timezone.now())
        if user is w.provider_a:
            w.notification_a = note
    # What provider A's private objects show, by marker: none may appear in an answer to provider B
    # or to an anonymous visitor (tests/test_permission_matrix.py, the leak probe).
    w.private_markers = {
        "Nordlicht": "A's private agreement (title, steps, document, goal)",
        "Polarstern": "A's private network (name, meeting agenda, task)",
        "Morgenrot": "A's need report", "Abendrot": "the planning process A takes part in",
        "Gewitterfall": "the conflict case A raised", "Hagel": "A's expenditure (category, text)",
        "777.77": "A's expenditure (amount)", "777,77": "A's expenditure (amount, German format)",
        "Nebelcafe": "A's inactive offering", "Regenbogenhinweis": "A's notification",
        "Sturmzugang": "A's integration tokens",
    }
    return w
