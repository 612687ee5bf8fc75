"""core.queueing: publishing tasks without failing the request while the broker
(Redis) is unreachable, and the sweepers that send recorded work again.

"Unreachable" is real here: the Celery app's broker points at a closed port
on this machine (connection refused), as in production with Redis stopped; no
Redis is needed. The end-to-end case with a real Redis that is stopped and
started again, a worker and beat is tests/integration/test_faults.py."""

import datetime
import logging
import socket
import time
from decimal import Decimal as D

import pytest
from celery import shared_task
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from budgets.choices import RunStatus, Trigger
from budgets.models import AllocationRun
from core import queueing
from core.models import ImportRun, PendingTask
from core.queueing import resend_recorded_tasks, resend_stranded_work, send, send_on_commit
from core.services import resend_pending_imports, submit_import
from core.tasks import run_import
from regions.models import IndexResult, Region
from tests.conftest import client_for
from tests.factories import ImportRunFactory, IndicatorFactory, IndicatorValueFactory

# two districts (not the budget fixture's target level: its allocation does not change)
CSV = "code,name,parent_code,level\r\nN1,Neu Eins,CITY,bezirk\r\nN2,Neu Zwei,CITY,bezirk\r\n"


def csv_file():
    return SimpleUploadedFile("raeume.csv", CSV.encode(), content_type="text/csv")


@shared_task(name="tests.queueing.fails")
def fails():
    raise OSError("the task's own error")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


def _point_broker(app, url: str, eager: bool) -> None:
    app.conf.broker_url = url
    app.conf.task_always_eager = eager
    app._pool = None  # the connection and producer pools were made for the previous broker
    app.amqp._producer_pool = None


@pytest.fixture
def broker(settings):
    """Point the Celery app (the web side) at a broker: ``broker.down()`` — a
    closed port — or ``broker.eager()`` — tasks run in-process (Redis back, as far
    as a test without a worker can tell). Restored afterwards."""
    from sozialraum.celery import app

    before = app.conf.broker_url, app.conf.task_always_eager

    class Broker:
        url = f"redis://127.0.0.1:{_closed_port()}/0"

        def down(self):
            settings.CELERY_TASK_ALWAYS_EAGER = False
            _point_broker(app, self.url, eager=False)

        def eager(self):
            settings.CELERY_TASK_ALWAYS_EAGER = True
            _point_broker(app, before[0], eager=True)

    yield Broker()
    _point_broker(app, before[0], eager=before[1])
    queueing._DOWN_UNTIL.clear()


def _not_sent(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.queueing" and "not sent" in r.getMessage()]


class TestSend:
    def test_an_unreachable_broker_gives_false_and_a_warning_not_an_error(self, broker, caplog):
        broker.down()
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="core.queueing"):
            assert send(run_import, 123) is False
        assert time.monotonic() - start < 3, "a publish must give up after about a second"
        assert _not_sent(caplog) == [f"core.run_import(123) not sent: the message broker is unreachable "
                                     f"({_refused(broker)})"]

    def test_after_a_failure_the_broker_is_left_alone_for_a_while(self, broker, caplog):
        broker.down()
        assert send(run_import, 1) is False
        caplog.clear()
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="core.queueing"):
            for pk in range(2, 12):  # e.g. an import touching ten indices
                assert send(run_import, pk, countdown=2) is False
        assert time.monotonic() - start < 0.5, "no connection attempt within RETRY_AFTER"
        assert len(_not_sent(caplog)) == 10 and "core.run_import(11) not sent" in _not_sent(caplog)[-1]

    def test_the_broker_is_tried_again_after_retry_after(self, broker, caplog):
        """Past the pause, the next send publishes again (the in-memory transport
        stands in for Redis being back) and the recovery is logged."""
        from sozialraum.celery import app

        _point_broker(app, "memory://", eager=False)
        queueing._DOWN_UNTIL["memory://"] = time.monotonic() + 60
        assert send(run_import, 1) is False  # within the pause: not tried
        queueing._DOWN_UNTIL["memory://"] = time.monotonic() - 0.1
        with caplog.at_level(logging.INFO, logger="core.queueing"):
            assert send(run_import, 2) is True
        assert "memory://" not in queueing._DOWN_UNTIL
        assert "the message broker is reachable again" in caplog.text

    @pytest.mark.django_db
    def test_without_redis_the_task_runs_in_process_and_its_errors_are_the_callers(self, eager_celery):
        assert send(run_import, 987654) is True  # ran: nothing to claim
        with pytest.raises(OSError, match="the task's own error"):
            send(fails)  # not mistaken for an unreachable broker


@pytest.mark.django_db
class TestSendOnCommit:
    def test_sent_is_known_after_the_commit(self, broker, django_capture_on_commit_callbacks):
        broker.down()
        with django_capture_on_commit_callbacks(execute=True):
            sending = send_on_commit(run_import, 1)
            assert sending.sent is None  # not committed yet: nothing tried
        assert sending.sent is False

    def test_a_rolled_back_change_sends_nothing(self, broker, django_capture_on_commit_callbacks, caplog):
        broker.down()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    sending = send_on_commit(run_import, 1)
                    raise RuntimeError
            except RuntimeError:
                pass
        assert callbacks == [] and sending.sent is None and not _not_sent(caplog)


# --- requests while the broker is unreachable: answered, the work recorded --------------------


@pytest.mark.django_db(transaction=True)  # on_commit runs inside the request, as in production
class TestRequestsWhileTheBrokerIsDown:
    def test_api_import_is_accepted_and_stays_pending_then_runs_once(self, broker, planner, tree):
        broker.down()
        start = time.monotonic()
        response = client_for(planner).post("/api/v1/imports/", {"kind": "regions", "file": csv_file()},
                                            format="multipart")
        assert response.status_code == 202, response.content
        assert time.monotonic() - start < 5
        assert response.data["status"] == "pending"
        run = ImportRun.objects.get(pk=response.data["id"])
        assert run.status == ImportRun.Status.PENDING and run.file
        assert not Region.objects.filter(code__in=["N1", "N2"]).exists()

        broker.eager()  # the broker is back: the sweeper sends the pending run
        assert resend_pending_imports(older_than=0) == [run.pk]
        run.refresh_from_db()
        assert run.status == ImportRun.Status.SUCCEEDED, run.errors
        assert set(Region.objects.filter(code__in=["N1", "N2"]).values_list("code", flat=True)) == {"N1", "N2"}
        assert resend_pending_imports(older_than=0) == []  # nothing left to send
        assert run_import(run.pk) == "skipped"  # a late duplicate message does nothing

    def test_upload_page_goes_on_to_the_run(self, broker, planner, tree):
        from django.test import Client

        broker.down()
        client = Client()
        client.force_login(planner)
        response = client.post("/importe/neu/", {"kind": "regions", "file": csv_file()})
        run = ImportRun.objects.get()
        assert response.status_code == 302 and response.url == f"/importe/{run.pk}/"
        assert run.status == ImportRun.Status.PENDING
        page = client.get(response.url)
        assert page.status_code == 200
        assert "Die Verarbeitung startet, sobald der Hintergrunddienst wieder erreichbar ist." in page.content.decode()

    def test_submit_import_tells_whether_the_task_went_out(self, broker, planner, tree):
        broker.down()
        run = submit_import(user=planner, kind="regions", uploaded_file=csv_file())
        assert run.sending.sent is False and run.status == ImportRun.Status.PENDING

    def test_index_computation_request_is_answered_recorded_and_sent_later(self, broker, planner, tree, levels,
                                                                          caplog):
        """The request is answered, the unsent task logged with index and period
        and recorded (core.PendingTask, once however often it is asked for); when
        the broker is back the sweeper sends it and the index is computed."""
        from regions.indices import save_definition

        share = IndicatorFactory(key="anteil", name="Anteil", rollup="none")
        for code, value in (("P11", 1), ("P12", 2), ("P21", 4)):
            IndicatorValueFactory(indicator=share, region=tree[code], period="2022", value=value)
        index = save_definition(None, {"key": "testindex", "name": "Testindex", "scope_level": levels["planungsraum"],
                                       "restandardise": False}, [{"indicator": share, "weight": 1}], [])
        broker.down()
        with caplog.at_level(logging.WARNING, logger="core.queueing"):
            response = client_for(planner).post("/api/v1/indices/testindex/compute/", {"period": "2022"},
                                                format="json")
        assert response.status_code == 202, response.content
        assert _not_sent(caplog) == [f"regions.compute_index({index.pk}, '2022') not sent: the message broker is "
                                     f"unreachable ({_refused(broker)})"]
        client_for(planner).post("/api/v1/indices/testindex/compute/", {"period": "2022"}, format="json")
        pending = PendingTask.objects.get()  # asked twice, recorded once
        assert (pending.task, pending.args, pending.kwargs) == ("regions.compute_index", [index.pk, "2022"], {})
        assert not IndexResult.objects.filter(index=index).exists()

        assert resend_recorded_tasks() == []  # still down: kept, its attempt counted
        assert PendingTask.objects.get().attempts == 1
        queueing._DOWN_UNTIL.clear()
        broker.eager()  # back: sent (run in-process here) and deleted
        assert resend_recorded_tasks() == [f"regions.compute_index({index.pk}, '2022')"]
        assert not PendingTask.objects.exists()
        assert IndexResult.objects.filter(index=index, period="2022").count() == 3

    def test_adoption_is_saved_while_the_traegerbudget_recompute_cannot_be_sent(self, broker, budget, planner,
                                                                                caplog):
        from budgets.models import Adoption
        from budgets.services import run_allocation

        run = run_allocation(budget.pk, trigger=Trigger.MANUAL)
        broker.down()
        with caplog.at_level(logging.WARNING, logger="core.queueing"):
            response = client_for(planner).post(f"/api/v1/budgets/{budget.pk}/adopt/", {"run": run.pk},
                                                format="json")
        assert response.status_code == 200, response.content
        assert Adoption.objects.get().run == run
        assert f"budgets.recompute_providers({budget.pk}) not sent" in " ".join(_not_sent(caplog))
        assert PendingTask.objects.get().task == "budgets.recompute_providers"
        queueing._DOWN_UNTIL.clear()
        broker.eager()
        assert resend_recorded_tasks() == [f"budgets.recompute_providers({budget.pk})"]
        assert not PendingTask.objects.exists()


def _refused(broker) -> str:
    port = broker.url.rsplit(":", 1)[1].split("/")[0]
    return f"Error 111 connecting to 127.0.0.1:{port}. Connection refused."


# --- the sweepers ---------------------------------------------------------------------------------


def _age(run: ImportRun, seconds: float) -> None:
    ImportRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - datetime.timedelta(seconds=seconds))


def failing_sweeper():
    raise RuntimeError("this sweeper fails")


@pytest.mark.django_db
class TestSweepers:
    def test_pending_imports_that_waited_are_sent_again(self, planner, tree, eager_celery):
        # submitted inside the test's transaction, which never commits: their tasks were never sent
        waited = submit_import(user=planner, kind="regions", uploaded_file=csv_file())
        fresh = submit_import(user=planner, kind="regions", uploaded_file=csv_file())
        _age(waited, 20)
        no_file = ImportRunFactory(status=ImportRun.Status.PENDING, created_by=planner)  # an import_now record
        _age(no_file, 20)
        running = ImportRunFactory(status=ImportRun.Status.RUNNING, created_by=planner)
        _age(running, 20)

        assert resend_pending_imports(older_than=10) == [waited.pk]
        statuses = dict(ImportRun.objects.values_list("pk", "status"))
        assert statuses == {waited.pk: "succeeded", fresh.pk: "pending", no_file.pk: "pending", running.pk: "running"}
        assert Region.objects.filter(code="N1").count() == 1

    def test_a_run_is_sent_again_at_most_once_per_period(self, planner, tree, broker, settings):
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": "queueing-test"}}
        from sozialraum.celery import app

        run = submit_import(user=planner, kind="regions", uploaded_file=csv_file())
        _age(run, 60)
        _point_broker(app, "memory://", eager=False)  # taken by the broker, no worker runs it
        assert resend_pending_imports(older_than=30) == [run.pk]
        assert resend_pending_imports(older_than=30) == []  # still pending, but just sent
        cache.delete(f"queueing:resent:import:{run.pk}")  # the period is over
        assert resend_pending_imports(older_than=30) == [run.pk]

    def test_with_the_broker_down_nothing_is_marked_as_sent(self, planner, tree, broker):
        run = submit_import(user=planner, kind="regions", uploaded_file=csv_file())
        _age(run, 60)
        broker.down()
        assert resend_pending_imports(older_than=30) == []
        assert cache.get(f"queueing:resent:import:{run.pk}") is None  # the next sweep tries again
        assert ImportRun.objects.get().status == ImportRun.Status.PENDING

    def test_every_sweeper_runs_and_a_failing_one_stops_none(self, planner, budget, eager_celery, settings, caplog):
        settings.TASK_RESEND_SWEEPERS = ["tests.core.test_queueing.failing_sweeper",
                                         "core.services.resend_pending_imports",
                                         "budgets.services.resend_stranded_runs"]
        settings.TASK_RESEND_AFTER = 10
        imported = submit_import(user=planner, kind="regions", uploaded_file=csv_file())
        _age(imported, 20)
        queued = AllocationRun.objects.create(budget=budget, status=RunStatus.QUEUED, trigger=Trigger.BUDGET_CHANGE)
        AllocationRun.objects.filter(pk=queued.pk).update(created_at=timezone.now() - datetime.timedelta(seconds=20))

        with caplog.at_level(logging.ERROR, logger="core.queueing"):
            sent = resend_stranded_work()
        assert sent == {"core.services.resend_pending_imports": [imported.pk],
                        "budgets.services.resend_stranded_runs": [budget.pk]}
        assert "the sweeper tests.core.test_queueing.failing_sweeper failed" in caplog.text
        imported.refresh_from_db()
        queued.refresh_from_db()
        assert imported.status == ImportRun.Status.SUCCEEDED and queued.status == RunStatus.SUCCEEDED
        assert sum(queued.allocations.values_list("amount", flat=True)) == D("1000.00")

    def test_the_settings_list_the_sweepers_and_beat_runs_them(self, settings):
        from django.utils.module_loading import import_string

        for path in settings.TASK_RESEND_SWEEPERS:
            assert callable(import_string(path))
        entry = settings.CELERY_BEAT_SCHEDULE["stranded-work-resend"]
        assert entry["task"] == "core.resend_stranded_work"
        from sozialraum.celery import app

        assert "core.resend_stranded_work" in app.tasks


class TestImportWhoseWorkerDied:
    """A run left *running* by a worker that died (SIGKILL, host lost) is sent
    again and claimed once it has been running longer than the task time limit;
    a run that is running now is left alone."""

    def test_dead_run_is_sent_again_and_runs(self, planner, tree, settings, django_capture_on_commit_callbacks,
                                             eager_celery):
        from core.imports.base import claim

        with django_capture_on_commit_callbacks(execute=True):
            run = submit_import(user=planner, kind="regions", uploaded_file=csv_file())  # eager: runs at once
        run.refresh_from_db()
        assert run.status == ImportRun.Status.SUCCEEDED
        Region.objects.filter(code__in=["N1", "N2"]).delete()
        # as a worker that died mid-run leaves it (its transaction rolled back)
        ImportRun.objects.filter(pk=run.pk).update(status=ImportRun.Status.RUNNING, finished_at=None,
                                                   started_at=timezone.now() - datetime.timedelta(minutes=5))
        assert claim(run.pk) is None  # 5 minutes: it may still be working
        assert resend_pending_imports(older_than=0) == []
        ImportRun.objects.filter(pk=run.pk).update(
            started_at=timezone.now() - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 61))
        cache.clear()
        assert resend_pending_imports(older_than=0) == [run.pk]  # eager: sent and run in-process
        run.refresh_from_db()
        assert run.status == ImportRun.Status.SUCCEEDED, run.errors
        assert Region.objects.filter(code__in=["N1", "N2"]).count() == 2
