"""The import pages: list, upload form (planners only) and run detail.

Uploads run through ``core.services.submit_import`` → ``transaction.on_commit``
→ the Celery task, eagerly in-process here (``eager_celery``), so no broker
is needed even when REDIS_URL is set.
"""

import json
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import ImportRun
from regions.models import Region
from tests.factories import ImportRunFactory

pytestmark = pytest.mark.django_db

GOOD_CSV = "code,name,parent_code,level\nN1,Neu Eins,D1,planungsraum\nN2,Neu Zwei,D2,planungsraum\n"
BAD_CSV = "code,name,parent_code,level\nN1,Neu Eins,D1,planungsraum\nN2,Neu Zwei,D2,quartier\nN3,Neu Drei,D2,planungsraum\n"


def csv_file(text, name="raeume.csv"):
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def login(client, user):
    client.force_login(user)
    return client


def upload(client, captured, text=GOOD_CSV, **data):
    payload = {"kind": "regions", "file": csv_file(text), "options": "", **data}
    with captured(execute=True):
        return client.post("/importe/neu/", payload)


class TestAccess:
    @pytest.mark.parametrize("persona", ["viewer", "provider_editor_a", "region_lead"])
    def test_create_page_refused(self, request, client, tree, persona):
        login(client, request.getfixturevalue(persona))
        assert client.get("/importe/neu/").status_code == 403
        response = client.post("/importe/neu/", {"kind": "regions", "file": csv_file(GOOD_CSV)})
        assert response.status_code == 403
        assert not Region.objects.filter(code="N1").exists()
        assert not ImportRun.objects.exists()

    @pytest.mark.parametrize("url", ["/importe/", "/importe/neu/", "/importe/1/"])
    def test_anonymous_is_sent_to_login(self, client, url):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/anmelden/")

    @pytest.mark.parametrize("persona", ["planner", "scoped_planner", "viewer", "provider_editor_a", "region_lead"])
    def test_list_renders_for_everyone_logged_in(self, request, client, tree, persona):
        assert login(client, request.getfixturevalue(persona)).get("/importe/").status_code == 200

    def test_list_and_detail_are_scoped(self, client, planner, viewer, region_lead, tree):
        mine = ImportRunFactory(created_by=region_lead, original_name="meins.csv")
        other = ImportRunFactory(created_by=planner, original_name="planung.csv")
        login(client, region_lead)
        html = client.get("/importe/").content.decode()
        assert "meins.csv" in html and "planung.csv" not in html
        assert client.get(f"/importe/{mine.pk}/").status_code == 200
        assert client.get(f"/importe/{other.pk}/").status_code == 404
        # planners see every run
        client.logout()
        html = login(client, planner).get("/importe/").content.decode()
        assert "meins.csv" in html and "planung.csv" in html

    def test_new_import_button_only_for_planners(self, client, planner, viewer, tree):
        assert 'href="/importe/neu/"' in login(client, planner).get("/importe/").content.decode()
        client.logout()
        assert 'href="/importe/neu/"' not in login(client, viewer).get("/importe/").content.decode()


class TestUpload:
    def test_form_renders_with_kinds_and_option_help(self, client, planner):
        html = login(client, planner).get("/importe/neu/").content.decode()
        assert 'enctype="multipart/form-data"' in html
        assert '<option value="regions">' in html and '<option value="indicator_values">' in html
        for label in ("Art des Imports", "Datei", "Profil", "Optionen (JSON)", "Probelauf"):
            assert label in html
        assert "<code>hierarchy</code>" not in html  # only the documented options
        assert "<code>columns</code>" in html  # option_help of the regions importer

    def test_planner_imports_regions(self, client, planner, tree, django_capture_on_commit_callbacks, eager_celery):
        login(client, planner)
        response = upload(client, django_capture_on_commit_callbacks)
        run = ImportRun.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/importe/{run.pk}/"
        run.refresh_from_db()
        assert run.status == ImportRun.Status.SUCCEEDED, run.errors
        assert run.created_by == planner
        assert Region.objects.get(code="N1").parent.code == "D1"
        assert Region.objects.get(code="N2").parent.code == "D2"
        html = client.get(f"/importe/{run.pk}/").content.decode()
        assert "Import erfolgreich abgeschlossen." in html
        assert re.search(r"<th scope=\"row\">angelegt</th><td class=\"num\">2</td>", html)
        assert "http-equiv=\"refresh\"" not in html

    def test_bad_line_is_reported_with_its_number_and_nothing_written(
        self, client, planner, tree, django_capture_on_commit_callbacks, eager_celery
    ):
        login(client, planner)
        response = upload(client, django_capture_on_commit_callbacks, text=BAD_CSV)
        run = ImportRun.objects.get()
        run.refresh_from_db()
        assert run.status == ImportRun.Status.FAILED
        assert not Region.objects.filter(code__in=["N1", "N2", "N3"]).exists()
        html = client.get(response["Location"]).content.decode()
        assert "Import abgelehnt: 1 Fehler. Es wurde nichts gespeichert." in html
        errors = html[html.index('id="errors-heading"'):]
        assert re.search(r'<td class="num">3</td>\s*<td>level</td>\s*<td>unbekannte Ebene', errors)
        for header in ("Zeile", "Spalte", "Meldung"):
            assert f">{header}</th>" in errors

    def test_dry_run_writes_nothing(self, client, planner, tree, django_capture_on_commit_callbacks, eager_celery):
        login(client, planner)
        response = upload(client, django_capture_on_commit_callbacks, dry_run="on")
        run = ImportRun.objects.get()
        run.refresh_from_db()
        assert run.status == ImportRun.Status.SUCCEEDED and run.dry_run
        assert not Region.objects.filter(code="N1").exists()
        assert "Probelauf erfolgreich" in client.get(response["Location"]).content.decode()

    def test_scoped_planner_cannot_import_outside_subtree(
        self, client, scoped_planner, tree, django_capture_on_commit_callbacks, eager_celery
    ):
        login(client, scoped_planner)
        response = upload(client, django_capture_on_commit_callbacks)
        html = client.get(response["Location"]).content.decode()
        assert "keine Berechtigung" in html
        assert not Region.objects.filter(code__in=["N1", "N2"]).exists()

    def test_options_and_profile_are_passed_on(
        self, client, planner, tree, django_capture_on_commit_callbacks, eager_celery
    ):
        login(client, planner)
        text = "Schlüssel;Bezeichnung;Oben;Ebene\nN1;Neu Eins;D1;planungsraum\n"
        options = {"columns": {"code": "Schlüssel", "name": "Bezeichnung", "parent_code": "Oben", "level": "Ebene"}}
        upload(client, django_capture_on_commit_callbacks, text=text, options=json.dumps(options))
        run = ImportRun.objects.get()
        run.refresh_from_db()
        assert run.options == options
        assert run.status == ImportRun.Status.SUCCEEDED, run.errors
        assert Region.objects.filter(code="N1").exists()


class TestValidation:
    def post(self, client, **data):
        payload = {"kind": "regions", "file": csv_file(GOOD_CSV), **data}
        return client.post("/importe/neu/", payload)

    def test_invalid_json(self, client, planner, tree):
        response = self.post(login(client, planner), options="{kein json")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Kein gültiges JSON" in html
        assert 'aria-invalid="true"' in html and 'id="id_options_error"' in html
        assert not ImportRun.objects.exists()

    def test_options_must_be_an_object(self, client, planner, tree):
        response = self.post(login(client, planner), options="[1, 2]")
        assert "JSON-Objekt" in response.content.decode()
        assert not ImportRun.objects.exists()

    def test_unknown_profile(self, client, planner, tree):
        response = self.post(login(client, planner), profile="gibt-es-nicht")
        assert response.status_code == 200
        assert "Unbekanntes Profil" in response.content.decode()
        assert not ImportRun.objects.exists()

    def test_missing_file_and_kind(self, client, planner, tree):
        response = login(client, planner).post("/importe/neu/", {"kind": ""})
        html = response.content.decode()
        assert "Bitte eine Datei auswählen." in html
        assert "Bitte die Art des Imports wählen." in html
        assert 'role="alert"' in html

    def test_file_too_large(self, client, planner, tree, settings):
        settings.IMPORT_MAX_UPLOAD_BYTES = 10
        response = self.post(login(client, planner))
        assert "Die Datei ist zu groß" in response.content.decode()
        assert not ImportRun.objects.exists()


class TestRunDetail:
    @pytest.mark.parametrize("status", [ImportRun.Status.PENDING, ImportRun.Status.RUNNING])
    def test_in_progress_refreshes_every_3_seconds(self, client, planner, status):
        run = ImportRunFactory(created_by=planner, status=status)
        login(client, planner)
        html = client.get(f"/importe/{run.pk}/").content.decode()
        assert '<meta http-equiv="refresh" content="3">' in html
        assert "Der Import wird verarbeitet." in html
        # the refresh can be switched off (WCAG 2.2.1)
        html = client.get(f"/importe/{run.pk}/", {"aktualisieren": "aus"}).content.decode()
        assert 'http-equiv="refresh"' not in html

    def test_many_errors_are_capped(self, client, planner):
        errors = [{"line": n, "column": None, "message": "kaputt"} for n in range(2, 1502)]
        run = ImportRunFactory(created_by=planner, status=ImportRun.Status.FAILED, errors=errors, error_count=2000)
        html = login(client, planner).get(f"/importe/{run.pk}/").content.decode()
        assert html.count(">kaputt<") == 1000
        assert "1.000 weitere Fehler sind nicht aufgeführt." in html

    def test_english(self, client, planner):
        run = ImportRunFactory(
            created_by=planner, status=ImportRun.Status.FAILED, error_count=1,
            errors=[{"line": 7, "column": "level", "message": "unbekannte Ebene"}],
        )
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        html = login(client, planner).get(f"/importe/{run.pk}/").content.decode()
        assert "Import rejected: 1 error. Nothing was saved." in html
        assert ">Line</th>" in html and ">Column</th>" in html and ">Message</th>" in html

    def test_query_count(self, client, planner, django_assert_max_num_queries):
        for _ in range(30):
            ImportRunFactory(created_by=planner)
        login(client, planner)
        with django_assert_max_num_queries(6):
            assert client.get("/importe/").status_code == 200
