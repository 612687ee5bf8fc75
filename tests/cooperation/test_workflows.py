"""Workflows of issue 5 below the pages and the API: goal attainment from real
Berlin indicator values, document checks, need-report triage, planning phases
and SWOT contributions, conflict escalation."""

import datetime
import io
import zipfile
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from cooperation import conflicts, documents, goals, needs, planning
from cooperation.choices import ConflictStatus, GoalStatus, NeedStatus, PlanningPhase
from cooperation.models import AgreementDocument, ConflictCase, Goal, NeedReport, SwotEntry
from regions.models import Indicator, IndicatorValue, Region
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    EscalationStepFactory,
    GoalFactory,
    IndicatorFactory,
    NeedReportFactory,
    NetworkFactory,
    NetworkMemberFactory,
    PlanningParticipantFactory,
    PlanningProcessFactory,
)
from tests.regions.test_imports import berlin  # noqa: F401 - the class-scoped Berlin import

TODAY = datetime.date(2026, 11, 24)


@pytest.mark.django_db
class TestGoalAttainmentFromBerlinData:
    """Stülerstraße (PLR 01100101): MSS 2021 K01 = 2,82 %; residents 3.419 on
    31.12.2020 (MSS) and 3.503 on 30.06.2022 (Einwohnerregister)."""

    @pytest.fixture
    def plr(self, berlin):  # noqa: F811
        return Region.objects.get(code="01100101")

    def test_one_period_target_not_reached(self, plr):
        k01 = Indicator.objects.get(key="k01")
        value = IndicatorValue.objects.get(indicator=k01, region=plr)
        assert value.value == D("2.82")
        goal = GoalFactory(indicator=k01, region=plr, target_value=D("2.0"), target_date=datetime.date(2028, 12, 31))
        result = goals.attainments([goal], today=TODAY)[goal.pk]
        assert (result.baseline, result.current, result.progress) == (D("2.82"), D("2.82"), D("0.0"))
        assert result.status == GoalStatus.OFF_TRACK

    def test_target_met_in_the_indicators_direction(self, plr):
        k01 = Indicator.objects.get(key="k01")
        goal = GoalFactory(indicator=k01, region=plr, target_value=D("3.0"), baseline_period="2020-12-31",
                           target_date=datetime.date(2028, 12, 31))
        # neutral indicator: from 2.82 towards 3.0 means rising — not reached
        assert goals.attainments([goal], today=TODAY)[goal.pk].status == GoalStatus.OFF_TRACK
        # "higher is worse" (a share of people in need): at most 3.0 — reached with 2.82
        Indicator.objects.filter(pk=k01.pk).update(direction="higher_worse")
        goal.refresh_from_db()
        goal.indicator.refresh_from_db()
        result = goals.attainments([goal], today=TODAY)[goal.pk]
        assert result.status == GoalStatus.ACHIEVED and result.progress == D("100.0")

    def test_progress_between_two_real_periods(self, plr):
        residents = Indicator.objects.get(key="ew_gesamt")
        mss_residents = IndicatorValue.objects.get(indicator__key="mss_ew", region=plr).value
        assert mss_residents == 3419
        latest = IndicatorValue.objects.get(indicator=residents, region=plr)
        assert latest.value == 3503
        # the MSS count of 31.12.2020 as the earlier period of the same series
        IndicatorValue.objects.create(indicator=residents, region=plr, period="2020-12-31", value=mss_residents)
        goal = GoalFactory(indicator=residents, region=plr, target_value=D(3600), target_date=datetime.date(2027, 12, 31))
        result = goals.attainments([goal], today=TODAY)[goal.pk]
        assert (result.baseline_period, result.current_period) == ("2020-12-31", "2022-06-30")
        assert result.progress == D("46.4")  # (3503 − 3419) / (3600 − 3419) = 84 / 181
        assert result.status == GoalStatus.ON_TRACK and result.bar == 46
        # the same progress, but the date has passed: missed
        assert goals.attainments([goal], today=datetime.date(2028, 1, 1))[goal.pk].status == GoalStatus.MISSED

    def test_no_values_and_one_query_for_many(self, plr, django_assert_num_queries):
        k01 = Indicator.objects.get(key="k01")
        many = [GoalFactory(indicator=k01, region=r) for r in Region.objects.filter(code__regex=r"^011\d{5}$")[:8]]
        assert len(many) == 8
        empty = GoalFactory(indicator=IndicatorFactory(key="neu"), region=plr)  # an indicator without values
        chosen = Goal.objects.select_related("indicator").filter(pk__in=[g.pk for g in [*many, empty]])
        with django_assert_num_queries(2):  # the goals and all their values
            result = goals.attainments(chosen, today=TODAY)
        assert result[empty.pk].status == GoalStatus.NO_DATA and len(result) == 9


def _upload(name, content):
    return SimpleUploadedFile(name, content)


def _docx():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.django_db
class TestDocuments:
    def test_pdf_and_docx_accepted_and_stored_privately(self, planner, settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path
        agreement = AgreementFactory()
        doc = documents.add_document(agreement, _upload("Vertrag 2026.pdf", b"%PDF-1.7\n..."), title="Vertrag",
                                     kind="contract", user=planner)
        assert doc.content_type == "application/pdf" and doc.size == 12 and doc.original_name == "Vertrag_2026.pdf"
        assert str(tmp_path / "private") in doc.file.path
        docx = documents.add_document(agreement, _upload("anlage.docx", _docx()), title="", kind="annex", user=planner)
        assert docx.title == "anlage.docx" and docx.content_type == documents.DOCX
        documents.delete_document(doc)
        assert AgreementDocument.objects.count() == 1

    @pytest.mark.parametrize("name, content, message", [
        ("bild.pdf", b"\x89PNG\r\n\x1a\n....", "passt nicht zur Endung"),
        ("skript.exe", b"MZ....", "nicht erlaubt"),
        ("leer.pdf", b"", "ist leer"),
        ("kaputt.docx", b"PK\x03\x04 not a zip", "passt nicht zur Endung"),
        ("tabelle.xlsx", None, "passt nicht zur Endung"),  # a DOCX named .xlsx
    ])
    def test_refused(self, name, content, message):
        with pytest.raises(ValidationError) as error:
            documents.validate_upload(_upload(name, _docx() if content is None else content))
        assert message in str(error.value.message_dict["file"])

    def test_too_large(self, settings):
        settings.AGREEMENT_DOCUMENT_MAX_MB = 1
        with pytest.raises(ValidationError, match="höchstens 1 MB"):
            documents.validate_upload(_upload("gross.pdf", b"%PDF-" + b"0" * (1024 * 1024)))


@pytest.mark.django_db
class TestNeedTriage:
    def test_planner_moves_it_and_the_reporter_sees_it(self, planner, provider_editor_a, org_a):
        report = NeedReportFactory(reporter=org_a)
        assert needs.next_statuses(report) == [NeedStatus.IN_REVIEW, NeedStatus.PLANNED, NeedStatus.DECLINED]
        needs.triage(report, NeedStatus.IN_REVIEW, planner)
        process = PlanningProcessFactory()
        needs.triage(report, NeedStatus.PLANNED, planner, process=process)
        seen = NeedReport.objects.for_user(provider_editor_a).get(pk=report.pk)
        assert seen.status == NeedStatus.PLANNED and seen.triaged_by == planner
        assert list(process.need_reports.all()) == [report]
        with pytest.raises(needs.TriageError):
            needs.triage(report, NeedStatus.DECLINED, planner, reason="zu spät")

    def test_decline_needs_a_reason_and_providers_do_not_triage(self, planner, provider_editor_a, org_a):
        report = NeedReportFactory(reporter=org_a)
        with pytest.raises(needs.TriageError, match="Begründung"):
            needs.triage(report, NeedStatus.DECLINED, planner, reason="  ")
        with pytest.raises(needs.TriageError, match="Planung"):
            needs.triage(report, NeedStatus.IN_REVIEW, provider_editor_a)
        needs.triage(report, NeedStatus.DECLINED, planner, reason="Bedarf ist durch das Angebot X gedeckt.")
        report.refresh_from_db()
        assert report.decline_reason.startswith("Bedarf ist")

    def test_reporter_edits_only_while_new(self, planner, provider_editor_a, provider_editor_b, org_a):
        report = NeedReportFactory(reporter=org_a)
        assert NeedReport.objects.for_user(provider_editor_a, "change").filter(pk=report.pk).exists()
        assert not NeedReport.objects.for_user(provider_editor_b).filter(pk=report.pk).exists()
        needs.triage(report, NeedStatus.IN_REVIEW, planner)
        assert not NeedReport.objects.for_user(provider_editor_a, "change").filter(pk=report.pk).exists()

    def test_untriaged_after_14_days(self, org_a):
        old = NeedReportFactory(reporter=org_a)
        NeedReport.objects.filter(pk=old.pk).update(created_at=datetime.datetime(2026, 11, 1, 12, tzinfo=datetime.UTC))
        NeedReportFactory(reporter=org_a)
        assert list(NeedReport.objects.untriaged(14, TODAY)) == [NeedReport.objects.get(pk=old.pk)]


@pytest.mark.django_db
class TestPlanning:
    def test_phases_step_by_step_then_close(self, planner, provider_editor_a):
        process = PlanningProcessFactory()
        with pytest.raises(planning.PlanningError, match="nacheinander"):
            planning.move_phase(process, PlanningPhase.GOALS, planner)
        with pytest.raises(planning.PlanningError):
            planning.move_phase(process, PlanningPhase.ANALYSIS, provider_editor_a)
        for phase in PlanningPhase.values[1:]:
            process = planning.move_phase(process, phase, planner)
        assert process.phase == PlanningPhase.EVALUATION
        process = planning.close(process, planner)
        assert process.closed
        with pytest.raises(planning.PlanningError, match="abgeschlossen"):
            planning.move_phase(process, PlanningPhase.IMPLEMENTATION, planner)

    def test_swot_by_participants_for_their_own_organisation(self, planner, provider_editor_a, provider_editor_b,
                                                              org_a, org_b):
        process = PlanningProcessFactory()
        PlanningParticipantFactory(process=process, organization=org_a)
        entry = planning.add_swot(process, org_a, "strength", "Gute Vernetzung mit den Schulen", provider_editor_a)
        assert entry.organization == org_a
        with pytest.raises(planning.PlanningError):
            planning.add_swot(process, org_b, "threat", "…", provider_editor_b)  # not a participant
        with pytest.raises(planning.PlanningError):
            planning.add_swot(process, org_a, "threat", "…", provider_editor_b)  # not their organisation
        assert planning.contributing_organizations(process, planner) == [org_a]
        assert SwotEntry.objects.for_user(provider_editor_a, "change").filter(pk=entry.pk).exists()
        assert not SwotEntry.objects.for_user(provider_editor_b).exists()


@pytest.mark.django_db
class TestConflicts:
    def test_through_three_steps_with_deadlines_then_closed(self, planner, provider_editor_a, org_a):
        agreement = AgreementFactory()
        AgreementPartyFactory(agreement=agreement, organization=org_a)
        for order, (who, days) in enumerate([("Sozialraumteam", 14), ("Fachdienstleitung", 21), ("Lenkungsgruppe", 30)], 1):
            EscalationStepFactory(agreement=agreement, order=order, handled_by=who, days=days)
        case = conflicts.raise_conflict(agreement, org_a, subject="Zuständigkeit Hausbesuche",
                                        description="Strittig, wer die Hausbesuche übernimmt.", user=provider_editor_a,
                                        today=TODAY)
        assert (case.step.order, case.step_due) == (1, TODAY + datetime.timedelta(days=14))
        assert list(ConflictCase.objects.overdue(TODAY + datetime.timedelta(days=15))) == [case]
        case = conflicts.escalate(case, planner, today=TODAY + datetime.timedelta(days=15))
        assert (case.step.order, case.step_due) == (2, TODAY + datetime.timedelta(days=36))
        case = conflicts.escalate(case, planner, today=TODAY + datetime.timedelta(days=36))
        with pytest.raises(conflicts.ConflictError, match="letzte Stufe"):
            conflicts.escalate(case, planner)
        with pytest.raises(conflicts.ConflictError, match="Ergebnis"):
            conflicts.close(case, ConflictStatus.MEDIATED, " ", planner)
        case = conflicts.close(case, ConflictStatus.MEDIATED, "Hausbesuche übernimmt Träger A.", planner)
        assert case.status == ConflictStatus.MEDIATED and case.closed_at is not None
        with pytest.raises(conflicts.ConflictError, match="abgeschlossen"):
            conflicts.escalate(case, planner)

    def test_only_parties_raise_and_only_handlers_escalate(self, planner, provider_editor_a, provider_editor_b,
                                                           org_a, org_b):
        network = NetworkFactory(coordinator=org_a)
        NetworkMemberFactory(network=network, organization=org_b)
        EscalationStepFactory(agreement=None, network=network, order=1, days=7)
        with pytest.raises(conflicts.ConflictError):
            conflicts.raise_conflict(AgreementFactory(), org_b, subject="x", description="y", user=provider_editor_b)
        case = conflicts.raise_conflict(network, org_b, subject="Termine", description="Sitzungen kollidieren.",
                                        user=provider_editor_b, today=TODAY)
        with pytest.raises(conflicts.ConflictError, match="nicht bearbeiten"):
            conflicts.close(case, ConflictStatus.RESOLVED, "geklärt", provider_editor_b)  # a member, not coordinator
        conflicts.close(case, ConflictStatus.RESOLVED, "Neue Sitzungstermine vereinbart.", provider_editor_a)
        assert ConflictCase.objects.for_user(provider_editor_b).filter(pk=case.pk).exists()

    def test_public_agreement_does_not_show_its_conflicts(self, planner, provider_editor_b, org_a):
        agreement = AgreementFactory(public=True)
        AgreementPartyFactory(agreement=agreement, organization=org_a)
        case = conflicts.raise_conflict(agreement, org_a, subject="x", description="y", user=planner)
        assert not ConflictCase.objects.for_user(provider_editor_b).filter(pk=case.pk).exists()


@pytest.mark.django_db
class TestFieldFilterWithSubFields:
    def test_agreements_and_need_reports_by_field_include_sub_fields(self, planner, org_a):
        from cooperation.filtersets import AgreementFilterSet, NeedReportFilterSet
        from cooperation.models import Agreement
        from tests.factories import FieldOfActionFactory

        kjh = FieldOfActionFactory(key="jugend", name="Jugend")
        hze = FieldOfActionFactory(key="jugend-hze", name="Hilfen zur Erziehung", parent=kjh)
        other = FieldOfActionFactory(key="pflege", name="Pflege")
        on_sub = AgreementFactory(fields=[hze, kjh])
        AgreementFactory(fields=[other])
        found = AgreementFilterSet({"field": "jugend"}, queryset=Agreement.objects.all()).qs
        assert list(found) == [on_sub]  # once, though it has two matching fields
        assert list(AgreementFilterSet({"field": "jugend-hze"}, queryset=Agreement.objects.all()).qs) == [on_sub]
        report = NeedReportFactory(reporter=org_a, field=hze)
        assert list(NeedReportFilterSet({"field": "jugend"}, queryset=NeedReport.objects.all()).qs) == [report]
        assert not NeedReportFilterSet({"field": "pflege"}, queryset=NeedReport.objects.all()).qs.exists()

    def test_a_closed_process_takes_no_need_report(self, planner, org_a):
        process = PlanningProcessFactory()
        for phase in PlanningPhase.values[1:]:
            process = planning.move_phase(process, phase, planner)
        planning.close(process, planner)
        with pytest.raises(needs.TriageError, match="abgeschlossen"):
            needs.triage(NeedReportFactory(reporter=org_a), NeedStatus.PLANNED, planner, process=process)
