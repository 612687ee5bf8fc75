"""The daily reminder job: each kind reaches exactly the right people, once per
due event (also when the job runs twice, or twice at the same time), e-mails
are sent once and retried after a failure, and the beat schedule runs it."""

import datetime
import smtplib
import threading
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.utils import timezone

from cooperation import reminders
from cooperation.choices import AgreementStatus as S
from cooperation.models import Agreement, NeedReport, Service
from core.models import Notification
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    ConflictCaseFactory,
    EscalationStepFactory,
    MeetingFactory,
    MeetingTaskFactory,
    MembershipFactory,
    NeedReportFactory,
    NetworkFactory,
    OrganizationFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 6, 1)
LONG_AGO = timezone.now() - datetime.timedelta(days=800)


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


def run(today=TODAY):
    return reminders.send_reminders(today)


def recipients(kind) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


@pytest.fixture
def funder(db):
    return OrganizationFactory(name="Jugendamt Teststadt", kind="public_funder", umbrella="none")


@pytest.fixture
def funder_editor(funder):
    user = UserFactory(username="jugendamt")
    MembershipFactory(user=user, organization=funder, role="editor")
    return user


@pytest.fixture
def everyone(planner, scoped_planner, region_lead, viewer, provider_editor_a, provider_editor_b, funder_editor, org_b):
    """All personas (planner_d2: a planner limited to district D2); plus a
    member of org B who only reads (no editor: never reminded)."""
    MembershipFactory(user=UserFactory(username="provider_b_reader"), organization=org_b, role="viewer")


@pytest.fixture
def agreement(tree, funder, org_a, org_b):
    """Active, in P11 (district D1): A leads, B is a partner, the Jugendamt funds it."""
    agreement = AgreementFactory(title="Kooperation Nord", status=S.ACTIVE, regions=[tree["P11"]])
    AgreementPartyFactory(agreement=agreement, organization=funder, role="funder")
    AgreementPartyFactory(agreement=agreement, organization=org_a, role="lead")
    AgreementPartyFactory(agreement=agreement, organization=org_b, role="partner")
    return agreement


def set_agreement(agreement, **values):
    Agreement.objects.filter(pk=agreement.pk).update(**values)


class TestAgreementReview:
    def test_due_review_reaches_planners_and_the_lead_party(self, everyone, agreement):
        set_agreement(agreement, next_review=days(settings.REMINDER_REVIEW_DAYS))
        result = run()
        assert recipients(reminders.AGREEMENT_REVIEW) == {"planner", "provider_a"}
        assert result["created"][reminders.AGREEMENT_REVIEW] == 2
        note = Notification.objects.get(kind=reminders.AGREEMENT_REVIEW, user__username="provider_a")
        assert note.event_key == f"agreement-review:{agreement.pk}:{days(30).isoformat()}"
        assert note.url == f"/kooperation/vereinbarungen/{agreement.uuid}/"
        assert "Kooperation Nord" in note.title and "01.07.2026" in note.title
        assert "zur Überprüfung fällig" in note.text

    def test_overdue_review_still_reminds(self, everyone, agreement):
        set_agreement(agreement, next_review=days(-3))
        run()
        assert recipients(reminders.AGREEMENT_REVIEW) == {"planner", "provider_a"}
        assert "steht noch aus" in Notification.objects.filter(kind=reminders.AGREEMENT_REVIEW).first().text

    def test_review_further_ahead_is_not_yet_reminded(self, everyone, agreement):
        set_agreement(agreement, next_review=days(settings.REMINDER_REVIEW_DAYS + 1))
        run()
        assert not Notification.objects.exists()

    @pytest.mark.parametrize("status", [S.DRAFT, S.NEGOTIATION, S.TERMINATED, S.EXPIRED])
    def test_only_active_or_suspended_agreements(self, everyone, agreement, status):
        set_agreement(agreement, next_review=days(5), status=status,
                      valid_from=days(100) if status == S.NEGOTIATION else TODAY)  # no activation by date
        run()
        assert not Notification.objects.exists()

    def test_suspended_agreement_is_reminded(self, everyone, agreement):
        set_agreement(agreement, next_review=days(5), status=S.SUSPENDED)
        run()
        assert recipients(reminders.AGREEMENT_REVIEW) == {"planner", "provider_a"}

    def test_same_date_once_moved_date_again(self, everyone, agreement):
        set_agreement(agreement, next_review=days(10))
        first = run()
        second = run(days(1))  # the next day: nothing new
        assert first["created"][reminders.AGREEMENT_REVIEW] == 2
        assert second["created"][reminders.AGREEMENT_REVIEW] == 0
        assert Notification.objects.filter(kind=reminders.AGREEMENT_REVIEW).count() == 2
        set_agreement(agreement, next_review=days(20))  # the review was moved
        third = run(days(2))
        assert third["created"][reminders.AGREEMENT_REVIEW] == 2
        assert sorted(Notification.objects.filter(user__username="provider_a").values_list("event_key", flat=True)) == [
            f"agreement-review:{agreement.pk}:{days(10).isoformat()}",
            f"agreement-review:{agreement.pk}:{days(20).isoformat()}",
        ]


class TestAgreementEnding:
    def test_ending_reaches_planners_and_every_party(self, everyone, agreement):
        set_agreement(agreement, valid_until=days(20))
        run()
        assert recipients(reminders.AGREEMENT_ENDING) == {"planner", "provider_a", "provider_b", "jugendamt"}
        note = Notification.objects.filter(kind=reminders.AGREEMENT_ENDING).first()
        assert note.event_key == f"agreement-ending:{agreement.pk}:{days(20).isoformat()}"
        assert "21.06.2026" in note.text

    def test_not_ending_soon_is_not_reminded(self, everyone, agreement):
        set_agreement(agreement, valid_until=days(31))
        run()
        assert not Notification.objects.filter(kind=reminders.AGREEMENT_ENDING).exists()

    def test_ended_agreement_expires_instead(self, everyone, agreement):
        set_agreement(agreement, valid_until=days(-1))
        result = run()
        assert result["agreements"]["expired"] == 1
        assert not Notification.objects.exists()


class TestPlannerScope:
    """A planner limited to D2 hears of what touches D2 only; unscoped planners of everything."""

    def test_scoped_planner_gets_agreements_in_their_subtree(self, everyone, agreement, tree):
        in_d2 = AgreementFactory(title="Süd", status=S.ACTIVE, regions=[tree["P21"]], next_review=days(1))
        citywide = AgreementFactory(title="Stadt", status=S.ACTIVE, regions=[tree["CITY"]], next_review=days(1))
        no_region = AgreementFactory(title="ohne Raum", status=S.ACTIVE, next_review=days(1))
        set_agreement(agreement, next_review=days(1))  # in P11 (D1)
        run()

        def who(a):
            return set(Notification.objects.filter(event_key__startswith=f"agreement-review:{a.pk}:")
                       .values_list("user__username", flat=True))

        assert who(in_d2) == {"planner", "planner_d2"}
        assert who(citywide) == {"planner", "planner_d2"}  # the city contains D2
        assert who(agreement) == {"planner", "provider_a"}
        assert who(no_region) == {"planner"}

    def test_inactive_planner_gets_nothing(self, everyone, agreement, inactive_planner):
        set_agreement(agreement, next_review=days(1))
        run()
        assert not Notification.objects.filter(user=inactive_planner).exists()


class TestUnconfirmedServices:
    @pytest.fixture
    def stale(self, org_a, org_b):
        """Two unconfirmed offerings of A, one recently confirmed offering of B."""
        s1 = ServiceFactory(organization=org_a, name="Erziehungsberatung")
        s2 = ServiceFactory(organization=org_a, name="Familiencafé")
        ServiceFactory(organization=org_b, name="Schuldnerberatung", last_confirmed_at=timezone.now())
        Service.objects.filter(pk=s1.pk).update(last_confirmed_at=LONG_AGO)
        Service.objects.filter(pk=s2.pk).update(created_at=LONG_AGO)  # never confirmed
        return s1, s2

    def test_one_notification_per_organisation_to_its_editors(self, everyone, stale):
        run()
        assert recipients(reminders.SERVICES_UNCONFIRMED) == {"provider_a"}
        note = Notification.objects.get(kind=reminders.SERVICES_UNCONFIRMED)
        assert note.title.startswith("2 Angebote von Träger A e. V.")
        assert "Erziehungsberatung" in note.text and "Familiencafé" in note.text
        assert note.url == "/organisationen/angebote/zu-bestaetigen/"

    def test_not_repeated_while_the_same_offerings_stay_unconfirmed(self, everyone, stale):
        run()
        run(days(1))
        run(days(2))
        assert Notification.objects.filter(kind=reminders.SERVICES_UNCONFIRMED).count() == 1

    def test_another_offering_falling_due_reminds_again(self, everyone, stale, org_a):
        run()
        s3 = ServiceFactory(organization=org_a, name="Jugendtreff")
        Service.objects.filter(pk=s3.pk).update(last_confirmed_at=LONG_AGO + datetime.timedelta(days=30))
        run(days(1))
        titles = sorted(Notification.objects.filter(kind=reminders.SERVICES_UNCONFIRMED).values_list("title", flat=True))
        assert [t[:1] for t in titles] == ["2", "3"]

    def test_branch_offerings_reach_the_editors_of_the_parent(self, everyone, org_a):
        branch = OrganizationFactory(name="Zweigstelle Nord", parent=org_a)
        branch_editor = UserFactory(username="branch_editor")
        MembershipFactory(user=branch_editor, organization=branch, role="editor")
        service = ServiceFactory(organization=branch)
        Service.objects.filter(pk=service.pk).update(last_confirmed_at=LONG_AGO)
        run()
        assert recipients(reminders.SERVICES_UNCONFIRMED) == {"provider_a", "branch_editor"}

    def test_inactive_offerings_are_not_asked_about(self, everyone, org_a):
        service = ServiceFactory(organization=org_a, status="inactive")
        Service.objects.filter(pk=service.pk).update(last_confirmed_at=LONG_AGO)
        run()
        assert not Notification.objects.exists()


class TestMeetingTasks:
    @pytest.fixture
    def network(self, org_b):
        return NetworkFactory(name="Sozialraumteam Nord", coordinator=org_b)

    def test_overdue_task_reaches_responsible_and_coordinator(self, everyone, network, org_a, funder):
        meeting = MeetingFactory(network=network)
        task = MeetingTaskFactory(meeting=meeting, responsible=org_a, title="Flyer drucken", due=days(-1))
        MeetingTaskFactory(meeting=meeting, responsible=funder, due=days(-1), done_at=timezone.now())  # done
        MeetingTaskFactory(meeting=meeting, responsible=funder, due=TODAY)  # due today, not overdue
        run()
        assert recipients(reminders.MEETING_TASK_OVERDUE) == {"provider_a", "provider_b"}
        note = Notification.objects.filter(kind=reminders.MEETING_TASK_OVERDUE).first()
        assert note.event_key == f"meeting-task-overdue:{task.pk}:{days(-1).isoformat()}"
        assert note.url == f"/kooperation/netzwerke/{network.uuid}/"
        assert "Flyer drucken" in note.title

    def test_network_without_coordinator(self, everyone, org_b):
        task = MeetingTaskFactory(meeting=MeetingFactory(network=NetworkFactory()), responsible=org_b, due=days(-5))
        run()
        assert recipients(reminders.MEETING_TASK_OVERDUE) == {"provider_b"}
        assert Notification.objects.get().event_key.startswith(f"meeting-task-overdue:{task.pk}:")


class TestNeedReports:
    def report(self, region, age_days, **kwargs):
        report = NeedReportFactory(region=region, **kwargs)
        created = timezone.make_aware(datetime.datetime.combine(TODAY - datetime.timedelta(days=age_days),
                                                                datetime.time(12)))
        NeedReport.objects.filter(pk=report.pk).update(created_at=created)
        return report

    def test_untriaged_reports_reach_planners(self, everyone, tree, org_a):
        days_ = settings.REMINDER_NEED_REPORT_DAYS
        north = self.report(tree["P11"], days_, reporter=org_a, title="Wartelisten Nord")
        south = self.report(tree["P21"], days_ + 10, reporter=org_a)
        self.report(tree["P21"], days_ - 1, reporter=org_a)  # too recent
        self.report(tree["P21"], days_ + 10, reporter=org_a, status="in_review")  # being dealt with
        run()
        by_report = {r: set(Notification.objects.filter(event_key__startswith=f"need-report-untriaged:{r.pk}:")
                            .values_list("user__username", flat=True)) for r in (north, south)}
        assert by_report == {north: {"planner"}, south: {"planner", "planner_d2"}}
        assert Notification.objects.filter(kind=reminders.NEED_REPORT_UNTRIAGED).count() == 3
        note = Notification.objects.filter(event_key__startswith=f"need-report-untriaged:{north.pk}:").get()
        assert note.url == f"/kooperation/bedarfsmeldungen/{north.uuid}/"
        assert "Wartelisten Nord" in note.title and "Träger A e. V." in note.text


class TestConflicts:
    def test_overdue_step_under_an_agreement(self, everyone, agreement):
        step = EscalationStepFactory(agreement=agreement, order=1, handled_by="Sozialraumteam", days=14)
        case = ConflictCaseFactory(agreement=agreement, raised_by=agreement.parties.get(role="partner").organization,
                                   subject="Hausbesuche", step=step, step_started=days(-20), step_due=days(-6))
        ConflictCaseFactory(agreement=agreement, raised_by=case.raised_by, step=step, step_due=TODAY)  # not yet
        ConflictCaseFactory(agreement=agreement, raised_by=case.raised_by, step=step, step_due=days(-6),
                            status="resolved", outcome="geklärt")  # closed
        run()
        # planners, the funder and the lead party — not the partner B
        assert recipients(reminders.CONFLICT_OVERDUE) == {"planner", "jugendamt", "provider_a"}
        note = Notification.objects.filter(kind=reminders.CONFLICT_OVERDUE).first()
        assert note.event_key == f"conflict-overdue:{case.pk}:{step.pk}:{days(-6).isoformat()}"
        assert note.url == f"/kooperation/konflikte/{case.uuid}/"
        assert "Sozialraumteam" in note.text

    def test_overdue_step_in_a_network(self, everyone, org_a, org_b, tree):
        network = NetworkFactory(coordinator=org_b, regions=[tree["P21"]])
        ConflictCaseFactory(agreement=None, network=network, raised_by=org_a, step_due=days(-1))
        run()
        assert recipients(reminders.CONFLICT_OVERDUE) == {"planner", "planner_d2", "provider_b"}

    def test_a_new_deadline_reminds_again(self, everyone, agreement):
        case = ConflictCaseFactory(agreement=agreement, raised_by=agreement.parties.first().organization,
                                   step_due=days(-1))
        run()
        run(days(1))
        assert Notification.objects.filter(kind=reminders.CONFLICT_OVERDUE).count() == 3
        type(case).objects.filter(pk=case.pk).update(step_due=days(3))  # next step, a new deadline
        run(days(5))
        assert Notification.objects.filter(kind=reminders.CONFLICT_OVERDUE).count() == 6


@pytest.fixture
def due_everything(everyone, agreement, org_a, org_b, tree):
    """One event of every kind."""
    set_agreement(agreement, next_review=days(5), valid_until=days(10))
    service = ServiceFactory(organization=org_a)
    Service.objects.filter(pk=service.pk).update(last_confirmed_at=LONG_AGO)
    MeetingTaskFactory(meeting=MeetingFactory(network=NetworkFactory(coordinator=org_b)), responsible=org_a,
                       due=days(-1))
    report = NeedReportFactory(region=tree["P21"], reporter=org_a)
    NeedReport.objects.filter(pk=report.pk).update(created_at=timezone.now() - datetime.timedelta(days=400))
    ConflictCaseFactory(agreement=agreement, raised_by=org_b, step_due=days(-1))
    return agreement


EXPECTED = {
    reminders.AGREEMENT_REVIEW: {"planner", "provider_a"},
    reminders.AGREEMENT_ENDING: {"planner", "provider_a", "provider_b", "jugendamt"},
    reminders.SERVICES_UNCONFIRMED: {"provider_a"},
    reminders.MEETING_TASK_OVERDUE: {"provider_a", "provider_b"},
    reminders.NEED_REPORT_UNTRIAGED: {"planner", "planner_d2"},
    reminders.CONFLICT_OVERDUE: {"planner", "jugendamt", "provider_a"},
}
EXPECTED_COUNT = sum(len(v) for v in EXPECTED.values())


class TestOncePerEvent:
    def test_every_kind_reaches_exactly_its_people(self, due_everything):
        result = run()
        assert {kind: recipients(kind) for kind in reminders.KINDS} == EXPECTED
        assert result["created"] == {kind: len(users) for kind, users in EXPECTED.items()}
        for username in ("viewer", "region_lead", "provider_b_reader"):
            assert not Notification.objects.filter(user__username=username).exists()

    def test_running_twice_creates_and_sends_nothing_twice(self, due_everything):
        first = run()
        assert first["emails"]["sent"] == EXPECTED_COUNT == len(mail.outbox)
        second = run()
        assert second["created"] == {kind: 0 for kind in reminders.KINDS}
        assert second["emails"]["sent"] == 0
        assert Notification.objects.count() == EXPECTED_COUNT
        assert len(mail.outbox) == EXPECTED_COUNT

    def test_returns_and_logs_counts(self, due_everything, caplog):
        with caplog.at_level("INFO", logger="cooperation.reminders"):
            result = run()
        assert result["emails"]["sent_by_kind"] == {kind: len(users) for kind, users in EXPECTED.items()}
        assert "notifications created" in caplog.text and "agreement_review" in caplog.text


class TestEmails:
    def test_one_email_each_with_an_absolute_link(self, everyone, agreement):
        set_agreement(agreement, next_review=days(5))
        run()
        by_address = {m.to[0]: m for m in mail.outbox}
        assert set(by_address) == {"planner@example.org", "provider_a@example.org"}
        message = by_address["provider_a@example.org"]
        assert message.subject.startswith("[Sozialraum] Überprüfung fällig am 06.06.2026")
        assert f"https://sozialraum.example.org/kooperation/vereinbarungen/{agreement.uuid}/" in message.body
        assert Notification.objects.filter(emailed_at__isnull=True).count() == 0

    def test_users_without_address_get_the_notification_only(self, everyone, agreement, provider_editor_a):
        type(provider_editor_a).objects.filter(pk=provider_editor_a.pk).update(email="")
        set_agreement(agreement, next_review=days(5))
        run()
        assert recipients(reminders.AGREEMENT_REVIEW) == {"planner", "provider_a"}
        assert [m.to for m in mail.outbox] == [["planner@example.org"]]

    def test_inactive_editor_gets_nothing(self, everyone, agreement, provider_editor_a):
        type(provider_editor_a).objects.filter(pk=provider_editor_a.pk).update(is_active=False)
        set_agreement(agreement, next_review=days(5))
        run()
        assert recipients(reminders.AGREEMENT_REVIEW) == {"planner"}

    def test_failed_send_is_retried_next_run_then_sent_once(self, everyone, agreement):
        set_agreement(agreement, next_review=days(5))
        with mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages",
                        side_effect=smtplib.SMTPServerDisconnected("down")):
            first = run()
        assert first["emails"] == {"sent": 0, "failed": 2, "sent_by_kind": {}}
        assert mail.outbox == []
        assert Notification.objects.filter(emailed_at__isnull=True).count() == 2
        second = run(days(1))
        assert second["created"][reminders.AGREEMENT_REVIEW] == 0
        assert second["emails"]["sent"] == 2
        run(days(2))
        assert sorted(m.to[0] for m in mail.outbox) == ["planner@example.org", "provider_a@example.org"]

    def test_one_failure_does_not_stop_the_others(self, everyone, agreement):
        set_agreement(agreement, next_review=days(5))
        real_send = LocmemBackend.send_messages

        def flaky(backend, messages):
            if messages[0].to == ["planner@example.org"]:
                raise smtplib.SMTPRecipientsRefused({"planner@example.org": (550, b"no")})
            return real_send(backend, messages)

        with mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages", flaky):
            result = run()
        assert result["emails"]["sent"] == 1 and result["emails"]["failed"] == 1
        assert [m.to for m in mail.outbox] == [["provider_a@example.org"]]
        assert list(Notification.objects.filter(emailed_at__isnull=True).values_list("user__username", flat=True)) == [
            "planner"]


@pytest.mark.django_db(transaction=True)
class TestConcurrentRuns:
    def test_two_runs_at_once_create_and_send_everything_once(self, due_everything):
        barrier = threading.Barrier(2)
        results, errors = [], []

        def job():
            try:
                barrier.wait(timeout=30)
                results.append(run())
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()  # each thread has its own connection

        threads = [threading.Thread(target=job) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors
        assert len(results) == 2
        assert Notification.objects.count() == EXPECTED_COUNT
        assert sum(sum(r["created"].values()) for r in results) == EXPECTED_COUNT
        assert sum(r["emails"]["sent"] for r in results) == EXPECTED_COUNT
        assert len(mail.outbox) == EXPECTED_COUNT
        assert len({(tuple(m.to), m.subject) for m in mail.outbox}) == EXPECTED_COUNT


class TestSchedule:
    def test_beat_runs_a_registered_task_daily_at_six(self):
        from celery.schedules import crontab

        from sozialraum.celery import app

        app.loader.import_default_modules()  # what a worker does at start: autodiscovers the tasks modules
        entries = settings.CELERY_BEAT_SCHEDULE
        assert entries
        for entry in entries.values():
            assert entry["task"] in app.tasks
        daily = entries["daily-reminders"]
        assert daily["task"] == "cooperation.send_reminders"
        assert isinstance(daily["schedule"], crontab)
        assert daily["schedule"].hour == {6} and daily["schedule"].minute == {0}
        assert app.conf.timezone == "Europe/Berlin"

    def test_task_runs_the_job(self, eager_celery, everyone, agreement):
        from cooperation.tasks import send_reminders

        set_agreement(agreement, next_review=days(5))
        result = send_reminders.delay(TODAY.isoformat()).get()
        assert result["created"][reminders.AGREEMENT_REVIEW] == 2
        assert len(mail.outbox) == 2

    def test_task_defaults_to_the_local_date(self, eager_celery, everyone, agreement):
        from cooperation.tasks import send_reminders

        set_agreement(agreement, next_review=days(5))
        with mock.patch("django.utils.timezone.localdate", return_value=TODAY):
            result = send_reminders.delay().get()
        assert result["created"][reminders.AGREEMENT_REVIEW] == 2
