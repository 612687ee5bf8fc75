"""Fictional cooperation for the demo city: agreements with parties, shares of
the Trägerbudget, conflict procedures and outcome goals; networks
(Sozialraumteams, Stadtteilkonferenzen, Fallkonferenzen) with meetings and
tasks; need reports, planning processes and conflict cases.

Built on the fictional organisations of ``demo_cooperation`` over the demo's
real LOR regions; every object has a fixed UUID, so a second run creates
nothing. Everything here is invented (no person is named; case conferences
hold only counts).
"""

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from cooperation.choices import (
    AgreementKind,
    AgreementStatus,
    Cadence,
    ConflictStatus,
    DecisionKind,
    NeedStatus,
    NetworkKind,
    NetworkRole,
    OrganizationKind,
    PartyRole,
    PlanningPhase,
    PlanningRole,
    SwotQuadrant,
)
from cooperation.models import (
    Agreement,
    AgreementParty,
    ConflictCase,
    EscalationStep,
    Goal,
    Meeting,
    MeetingTask,
    NeedReport,
    Network,
    NetworkMember,
    Organization,
    PlanningDecision,
    PlanningParticipant,
    PlanningProcess,
    SwotEntry,
)
from core.models import FieldOfAction
from regions.models import IndicatorValue, Region

from .demo_cooperation import _uuid

VALID_FROM, VALID_UNTIL = datetime.date(2026, 1, 1), datetime.date(2027, 12, 31)
STEPS = [("Sozialraumteam", 14), ("Fachdienstleitung des Jugendamts", 21), ("Lenkungsgruppe Sozialraum", 30)]
GOAL_INDICATORS = ["k01", "k03", "k05"]  # MSS 2021 context indicators (rolled up to the Bezirke)


def _at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _orgs_in(region: Region, kind: str, limit: int) -> list[Organization]:
    return list(Organization.objects.filter(kind=kind, regions__path__startswith=region.path).distinct()
                .order_by("name")[:limit])


@transaction.atomic
def load(stdout=None) -> dict:
    if Agreement.objects.filter(uuid=_uuid("agreement:0")).exists():
        return {"agreements": 0}
    bezirke = list(Region.objects.filter(level__key="bezirk").order_by("code"))
    kjh = FieldOfAction.objects.filter(key="kjh").first()
    if not bezirke or kjh is None or not Organization.objects.exists():
        return {"agreements": 0, "skipped": "keine Demo-Organisationen"}
    sub_fields = list(FieldOfAction.objects.subtree(kjh, include_self=False).order_by("path")[:4])
    demo_org = Organization.objects.filter(uuid=_uuid("provider:0")).first()
    funders_all = list(Organization.objects.filter(kind=OrganizationKind.PUBLIC_FUNDER).order_by("name"))
    counts = dict.fromkeys(("agreements", "networks", "meetings", "tasks", "need_reports", "planning", "conflicts"), 0)
    today = timezone.localdate()
    demo_bezirk = next((b for b in bezirke if demo_org and demo_org.regions.filter(path__startswith=b.path).exists()),
                       bezirke[0])
    agreements, providers_by_bezirk = [], {}
    for i, bezirk in enumerate(bezirke):
        providers = _orgs_in(bezirk, OrganizationKind.PROVIDER, 6)
        if demo_org and bezirk == demo_bezirk and demo_org not in providers:
            providers = [demo_org, *providers[:5]]
        elif demo_org and bezirk == demo_bezirk:
            providers = [demo_org, *[p for p in providers if p != demo_org]]
        if len(providers) < 3:
            continue
        providers_by_bezirk[bezirk.pk] = providers
        funder = (_orgs_in(bezirk, OrganizationKind.PUBLIC_FUNDER, 1) or funders_all[:1] or [None])[0]
        lead, partners = providers[0], providers[1:3]
        agreement = Agreement.objects.create(
            uuid=_uuid(f"agreement:{i}"), title=f"Kooperationsvereinbarung Jugendhilfe {bezirk.name}",
            kind=AgreementKind.SERVICE, status=AgreementStatus.ACTIVE, valid_from=VALID_FROM, valid_until=VALID_UNTIL,
            goals="Hilfen früh und im Sozialraum erbringen; fallunspezifische Arbeit stärken; gemeinsame Fallberatung "
                  "im Sozialraumteam.",
            review_interval_months=12,
            next_review=today + datetime.timedelta(days=20) if i % 4 == 0 else datetime.date(2027, 6, 30),
            public=i % 2 == 0,
        )
        agreement.regions.set([bezirk])
        agreement.fields.set([kjh])
        confirmed = _at(VALID_FROM - datetime.timedelta(days=20))
        parties = []
        if funder is not None:
            parties.append(AgreementParty(agreement=agreement, organization=funder, role=PartyRole.FUNDER,
                                          responsibilities="Finanzierung, Steuerung, Fallverantwortung nach § 36 SGB VIII",
                                          contact="sozialraum@jugendamt.example", availability="Mo–Fr 9–15 Uhr",
                                          confirmed_at=confirmed))
        parties.append(AgreementParty(agreement=agreement, organization=lead, role=PartyRole.LEAD,
                                      responsibilities="Koordination des Trägerverbunds, Sozialraumteam, Hilfen zur "
                                                       "Erziehung", contact=f"kooperation@{lead.pk}.example",
                                      availability="Mo–Fr 8–16 Uhr", budget_share=Decimal("30"),
                                      confirmed_at=confirmed))
        for k, partner in enumerate(partners):
            parties.append(AgreementParty(
                agreement=agreement, organization=partner, role=PartyRole.PARTNER,
                responsibilities=["Offene Kinder- und Jugendarbeit, Prävention", "Familienförderung, Frühe Hilfen"][k],
                contact=f"info@{partner.pk}.example", availability="Di und Do 10–16 Uhr",
                budget_share=Decimal("25"), work_modes=["case_unspecific", "case_overarching"], confirmed_at=confirmed))
        AgreementParty.objects.bulk_create(parties)
        EscalationStep.objects.bulk_create([EscalationStep(agreement=agreement, order=n, handled_by=who, days=days)
                                            for n, (who, days) in enumerate(STEPS, 1)])
        for key in GOAL_INDICATORS[: 1 + i % 2]:
            value = IndicatorValue.objects.filter(indicator__key=key, region=bezirk).order_by("-period").first()
            if value is not None:
                Goal.objects.create(agreement=agreement, title=f"{value.indicator.name} in {bezirk.name} senken",
                                    indicator=value.indicator, region=bezirk, baseline_period=value.period,
                                    target_value=(value.value * Decimal("0.9")).quantize(Decimal("0.01")),
                                    target_date=datetime.date(2028, 12, 31))
        agreements.append(agreement)
        counts["agreements"] += 1

        # networks: a Sozialraumteam per Bezirk, a Stadtteilkonferenz, every third a Fallkonferenz
        others = [*_orgs_in(bezirk, OrganizationKind.SCHOOL, 2), *_orgs_in(bezirk, OrganizationKind.POLICE, 1),
                  *_orgs_in(bezirk, OrganizationKind.RELIGIOUS, 1), *_orgs_in(bezirk, OrganizationKind.INITIATIVE, 1)]
        team = Network.objects.create(uuid=_uuid(f"network:team:{i}"), name=f"Sozialraumteam {bezirk.name}",
                                      kind=NetworkKind.SOCIAL_SPACE_TEAM, coordinator=funder, cadence=Cadence.MONTHLY,
                                      contact="sozialraumteam@jugendamt.example", public=False,
                                      description="Fallübergreifende Abstimmung von Jugendamt und Trägern im Bezirk.")
        team.regions.set([bezirk])
        team.fields.set([kjh])
        NetworkMember.objects.bulk_create(
            [NetworkMember(network=team, organization=lead, role=NetworkRole.COORDINATION,
                           responsibilities="Moderation, Protokoll")]
            + [NetworkMember(network=team, organization=o, role=NetworkRole.MEMBER) for o in partners + providers[3:5]])
        conference = Network.objects.create(
            uuid=_uuid(f"network:conference:{i}"), name=f"Stadtteilkonferenz {bezirk.name}",
            kind=NetworkKind.DISTRICT_CONFERENCE, coordinator=(others[-1] if others else lead),
            cadence=Cadence.QUARTERLY, public=True,
            description="Offenes Forum der Akteure im Stadtteil: Träger, Schulen, Kirchen, Polizei, Initiativen.")
        conference.regions.set([bezirk])
        NetworkMember.objects.bulk_create([NetworkMember(network=conference, organization=o, role=NetworkRole.MEMBER)
                                           for o in {*providers, *others} - {conference.coordinator}])
        networks = [team, conference]
        if i % 3 == 0:
            cases = Network.objects.create(uuid=_uuid(f"network:cases:{i}"), name=f"Fallkonferenz {bezirk.name}",
                                           kind=NetworkKind.CASE_CONFERENCE, coordinator=funder,
                                           cadence=Cadence.BIWEEKLY, public=False,
                                           description="Kollegiale Fallberatung – festgehalten wird nur die Anzahl "
                                                       "der Fälle.")
            cases.regions.set([bezirk])
            NetworkMember.objects.bulk_create([NetworkMember(network=cases, organization=o) for o in providers[:3]])
            networks.append(cases)
        counts["networks"] += len(networks)
        for n, network in enumerate(networks):
            for m, day in enumerate((datetime.date(2026, 9, 15), datetime.date(2026, 10, 20))):
                meeting = Meeting.objects.create(
                    uuid=_uuid(f"meeting:{i}:{n}:{m}"), network=network, starts_at=_at(day + datetime.timedelta(days=n)),
                    place="Stadtteilzentrum, Raum 2",
                    agenda="1. Bericht aus den Einrichtungen\n2. Bedarfe im Sozialraum\n3. Verschiedenes",
                    decisions="Ferienangebote werden abgestimmt; Fachtag im Frühjahr.",
                    cases_discussed=6 + m if network.kind == NetworkKind.CASE_CONFERENCE else None)
                meeting.attendees.set([network.coordinator, *[mm.organization for mm in network.members.all()[:4]]]
                                      if network.coordinator else [mm.organization for mm in network.members.all()[:4]])
                if network.kind == NetworkKind.CASE_CONFERENCE:
                    meeting.case_fields.set(sub_fields[:2])
                counts["meetings"] += 1
                if m == 1:
                    MeetingTask.objects.bulk_create([
                        MeetingTask(meeting=meeting, title="Übersicht der Ferienangebote zusammenstellen",
                                    responsible=lead, due=today - datetime.timedelta(days=10)),
                        MeetingTask(meeting=meeting, title="Fachtag vorbereiten: Raum und Programm",
                                    responsible=partners[0], due=today + datetime.timedelta(days=30)),
                    ])
                    counts["tasks"] += 2

    # need reports from providers, in every triage state
    statuses = [NeedStatus.NEW, NeedStatus.NEW, NeedStatus.IN_REVIEW, NeedStatus.PLANNED, NeedStatus.DECLINED]
    topics = [("Wartezeit in der Erziehungsberatung", "Wartezeiten von über drei Monaten für Erstgespräche."),
              ("Fehlender Jugendtreff am Wochenende", "Jugendliche treffen sich samstags im öffentlichen Raum; kein "
                                                      "offenes Angebot."),
              ("Mehr Sprachmittlung in der Familienhilfe", "In jeder zweiten Familie wird eine Sprachmittlung "
                                                           "gebraucht."),
              ("Schulsozialarbeit an Grundschulen", "Drei Grundschulen ohne Schulsozialarbeit melden steigende "
                                                    "Konflikte.")]
    reports = []
    for i, bezirk in enumerate(bezirke):
        providers = providers_by_bezirk.get(bezirk.pk)
        if not providers:
            continue
        title, text = topics[i % len(topics)]
        status = statuses[i % len(statuses)]
        report = NeedReport.objects.create(
            uuid=_uuid(f"need:{i}"), reporter=providers[i % 3], region=bezirk, field=sub_fields[i % len(sub_fields)]
            if sub_fields else kjh, title=title, description=text,
            evidence="Zusammengefasste Zahlen aus der Jahresstatistik der Einrichtung (ohne Personenbezug).",
            status=status, decline_reason="Der Bedarf wird durch das neue Angebot im Nachbarraum gedeckt."
            if status == NeedStatus.DECLINED else "",
            triaged_at=None if status == NeedStatus.NEW else timezone.now())
        if status == NeedStatus.NEW and i % 2 == 0:
            NeedReport.objects.filter(pk=report.pk).update(created_at=timezone.now() - datetime.timedelta(days=21))
        reports.append(report)
    counts["need_reports"] = len(reports)

    # planning processes in the demo provider's Bezirk
    providers = providers_by_bezirk.get(demo_bezirk.pk) or next(iter(providers_by_bezirk.values()))
    for n, (title, phase) in enumerate([(f"Offene Jugendarbeit {demo_bezirk.name} neu aufstellen", PlanningPhase.ANALYSIS),
                                        (f"Frühe Hilfen {demo_bezirk.name}", PlanningPhase.MEASURES)]):
        process = PlanningProcess.objects.create(
            uuid=_uuid(f"planning:{n}"), title=title, phase=phase,
            mandate_goals="Angebote nach dem Bedarf im Sozialraum ausrichten; Lücken am Wochenende schließen.",
            mandate_actors="Jugendamt, freie Träger, Schulen, Stadtteilkonferenz",
            mandate_provider_ask="Fachwissen zu Bedarfen und Zielgruppen, Auslastungszahlen, Ideen für Angebote",
            mandate_provider_join="ab der Analyse", mandate_provider_coordination="Im Trägerverbund vor jeder Sitzung")
        process.regions.set([demo_bezirk])
        process.fields.set([kjh])
        process.need_reports.set([r for r in reports if r.region_id == demo_bezirk.pk])
        PlanningParticipant.objects.bulk_create([
            PlanningParticipant(process=process, organization=o, role=PlanningRole.LEAD if k == 0 else
                                PlanningRole.PARTICIPANT) for k, o in enumerate(providers[:4])])
        SwotEntry.objects.bulk_create([
            SwotEntry(process=process, organization=providers[0], quadrant=SwotQuadrant.STRENGTH,
                      text="Gut vernetzte Einrichtungen mit langer Erfahrung im Kiez"),
            SwotEntry(process=process, organization=providers[1], quadrant=SwotQuadrant.WEAKNESS,
                      text="Kaum Angebote am Wochenende und in den Abendstunden"),
            SwotEntry(process=process, organization=providers[2], quadrant=SwotQuadrant.OPPORTUNITY,
                      text="Neue Räume im Stadtteilzentrum ab Sommer"),
            SwotEntry(process=process, organization=providers[0], quadrant=SwotQuadrant.THREAT,
                      text="Fachkräftemangel: offene Stellen bleiben monatelang unbesetzt"),
        ])
        if phase == PlanningPhase.MEASURES:
            PlanningDecision.objects.create(process=process, decided_on=datetime.date(2026, 10, 1),
                                            kind=DecisionKind.AGREEMENT, text="Trägerverbund Frühe Hilfen vereinbaren",
                                            agreement=agreements[0] if agreements else None, responsible=providers[0])
        counts["planning"] += 1

    # a Trägerverbund in negotiation: the demo provider still has to confirm
    if agreements and demo_org is not None:
        pending = Agreement.objects.create(
            uuid=_uuid("agreement:pending"), title=f"Trägerverbund Prävention {demo_bezirk.name}",
            kind=AgreementKind.PROVIDER_ALLIANCE, status=AgreementStatus.NEGOTIATION,
            valid_from=datetime.date(2027, 1, 1), goals="Gemeinsame präventive Angebote in den Ferien.",
            review_interval_months=12, next_review=datetime.date(2028, 1, 1))
        pending.regions.set([demo_bezirk])
        pending.fields.set([kjh])
        AgreementParty.objects.bulk_create([
            AgreementParty(agreement=pending, organization=demo_org, role=PartyRole.LEAD),
            AgreementParty(agreement=pending, organization=providers[1], role=PartyRole.PARTNER,
                           confirmed_at=timezone.now()),
        ])
        counts["agreements"] += 1

    # conflicts: one open and overdue at its first step, one mediated
    for n, agreement in enumerate(agreements[:2]):
        party = agreement.parties.filter(role=PartyRole.PARTNER).select_related("organization").first()
        step = agreement.escalation_steps.order_by("order").first()
        started = today - datetime.timedelta(days=20)
        ConflictCase.objects.create(
            uuid=_uuid(f"conflict:{n}"), agreement=agreement, raised_by=party.organization,
            subject="Zuständigkeit für Hausbesuche am Wochenende" if n == 0 else "Abstimmung der Ferienangebote",
            description="Die Vereinbarung regelt nicht eindeutig, wer die Hausbesuche übernimmt.",
            status=ConflictStatus.OPEN if n == 0 else ConflictStatus.MEDIATED, step=step, step_started=started,
            step_due=started + datetime.timedelta(days=step.days),
            outcome="" if n == 0 else "Im Sozialraumteam vermittelt: wechselnde Zuständigkeit nach Plan.",
            closed_at=None if n == 0 else timezone.now())
        counts["conflicts"] += 1
    # the Trägerbudgets now (the signals' tasks run only after the outer commit)
    from budgets import providers

    for budget_id in providers.budgets_with_adoption():
        providers.recompute(budget_id)
    if stdout is not None:
        stdout.write("Demo-Kooperation (fiktiv): " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts

