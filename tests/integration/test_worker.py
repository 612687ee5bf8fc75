"""A real Celery worker on Redis runs an import submitted through the API.

Needs REDIS_URL (CI sets it). The worker is a subprocess (`celery -A sozialraum
worker --pool=solo`) on the test database, consuming a queue of its own, so no
other worker on the same Redis takes the task and this test's task reaches no
other worker."""

import json
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import ImportRun
from regions.models import Region
from tests.conftest import client_for
from tests.integration.conftest import start_worker, stop_worker

WAIT_SECONDS = 60

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="REDIS_URL not set: no Redis broker for a real Celery worker"),
]


@pytest.mark.django_db(transaction=True)
class TestImportByWorker:
    def test_api_import_runs_in_the_worker(self, planner, tree, task_queue, tmp_path):
        from sozialraum.celery import app

        assert not app.conf.task_always_eager, "with REDIS_URL, tasks must go to the broker"
        assert app.conf.broker_url.startswith("redis://")

        # Two new districts under the fixture's city (levels land → bezirk → planungsraum).
        csv = "code,name,parent_code,level\r\nWK-N,Weltkreis Nord,CITY,bezirk\r\nWK-S,Weltkreis Süd,CITY,bezirk\r\n"
        response = client_for(planner).post(
            "/api/v1/imports/",
            {"kind": "regions", "file": SimpleUploadedFile("raeume.csv", csv.encode(), content_type="text/csv"),
             "options": json.dumps({})},
            format="multipart",
        )
        assert response.status_code == 202, response.content
        assert response.data["status"] == "pending"
        run_id = response.data["id"]

        # Nothing ran in this process: the task waits in Redis for a worker.
        time.sleep(0.5)
        assert ImportRun.objects.get(pk=run_id).status == ImportRun.Status.PENDING
        assert not Region.objects.filter(code__in=["WK-N", "WK-S"]).exists()

        log = tmp_path / "worker.log"
        worker = start_worker(task_queue, log)
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            run = ImportRun.objects.get(pk=run_id)
            while run.status in (ImportRun.Status.PENDING, ImportRun.Status.RUNNING):
                if worker.poll() is not None:
                    pytest.fail(f"the worker exited with {worker.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"import still {run.status} after {WAIT_SECONDS} s; worker log:\n"
                                f"{log.read_text(errors='replace')[-4000:]}")
                time.sleep(0.25)
                run.refresh_from_db()
            assert run.status == ImportRun.Status.SUCCEEDED, (run.errors, log.read_text(errors="replace")[-4000:])
            assert run.started_at and run.finished_at
        finally:
            stop_worker(worker)

        assert run.summary, "the worker recorded what it wrote"
        regions = {r.code: r for r in Region.objects.select_related("parent", "level")}
        for code, name in (("WK-N", "Weltkreis Nord"), ("WK-S", "Weltkreis Süd")):
            assert regions[code].name == name
            assert regions[code].level.key == "bezirk"
            assert regions[code].parent.code == "CITY"
            assert regions[code].created_by == planner
        # The worker, not this process, ran the task.
        worker_log = log.read_text(errors="replace")
        assert "Task core.run_import[" in worker_log and "succeeded" in worker_log, worker_log[-4000:]
