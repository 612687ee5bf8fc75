"""Uploads: every way a file comes in is checked by its content (not its
name) and its size, with a German message naming the file and the field;
files are stored outside anything the app serves; agreement documents leave
only through a view that checks access, as an attachment that browsers may not
sniff into something else.

Ways in: the import page and the import API (core), the expenditure upload of
a budget, the import management commands (all through
``core.imports.base.execute`` → ``core.imports.uploads``), agreement documents
on their page and through the API (``cooperation.documents``).
"""

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.views import static
from openpyxl import Workbook

from budgets.models import Expenditure
from cooperation import documents
from cooperation.models import AgreementDocument
from cooperation.storage import private_storage
from core.imports.uploads import ALLOWED, ImportFileRefused, check_import_file, validate_import_upload
from core.models import ImportRun
from regions.models import Region
from tests.conftest import client_for
from tests.factories import AgreementFactory, AgreementPartyFactory

PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 40 + b"%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 200
OLD_XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500
REGIONS_CSV = "code,name,parent_code,level\nN1,Neu Eins,D1,planungsraum\n"


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def xlsx_bytes() -> bytes:
    book = Workbook()
    book.active.append(["code", "name"])
    book.active.append(["N1", "Neu Eins"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


DOCX = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
ODS = zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
PLAIN_ZIP = zip_bytes({"daten.csv": REGIONS_CSV.encode()})

ACCEPTED = {
    "UTF-8 with BOM, semicolons, CRLF": "\ufeffcode;name\r\nN1;Neu Eins\r\n".encode(),
    "Windows-1252 umlauts": "code;name\nN1;Neukölln Süd\n".encode("cp1252"),
    "UTF-16 with BOM": "code\tname\nN1\tNeu Eins\n".encode("utf-16"),
    "GeoJSON": b'{"type": "FeatureCollection", "features": []}',
    "XLSX": xlsx_bytes(),
}
REFUSED = {  # content → what the message calls it
    "PDF": (PDF, "ist ein PDF-Dokument"),
    "PNG": (PNG, "ist ein PNG-Bild"),
    "old Excel": (OLD_XLS, "ist eine alte Office-Datei (z. B. .xls oder .doc"),
    "DOCX": (DOCX, "ist ein Word-Dokument (DOCX)"),
    "ODS": (ODS, "ist eine OpenDocument-Datei"),
    "ZIP": (PLAIN_ZIP, "ist ein ZIP-Archiv"),
    "broken ZIP": (b"PK\x03\x04" + b"\x01" * 100, "ist ein beschädigtes ZIP-Archiv"),
    "binary": (b"code;name\n" + bytes(range(256)) * 4, "ist keine Textdatei (sie enthält Binärdaten)"),
    "control characters": (b"\x01\x02\x03\x04\x05\x06\x07\x08" * 20, "ist keine Textdatei (sie enthält Steuerzeichen)"),
    "not cp1252 either": (b"code;name\nN1;\x81\x8d\x8f\x90\x9d\xff\xfe\n", "ist keine Textdatei in UTF-8 oder Windows-1252"),
}


class TestImportFileByContent:
    """``core.imports.uploads``: the type comes from the bytes, never the name."""

    @pytest.mark.parametrize("content", ACCEPTED.values(), ids=ACCEPTED.keys())
    def test_readable_files_pass(self, content, tmp_path):
        path = tmp_path / "daten.csv"  # the name does not matter, also for XLSX
        path.write_bytes(content)
        check_import_file(path)
        validate_import_upload(SimpleUploadedFile("daten.bin", content))

    @pytest.mark.parametrize(("content", "what"), REFUSED.values(), ids=REFUSED.keys())
    def test_other_files_are_refused_naming_file_and_type(self, content, what, tmp_path):
        path = tmp_path / "upload-1234"
        path.write_bytes(content)
        with pytest.raises(ImportFileRefused) as refused:
            check_import_file(path, name="imports/2026/11/raeume.csv")
        assert str(refused.value).startswith(f"Die Datei „raeume.csv“ {what}")
        assert str(refused.value).endswith(f"eingelesen werden {ALLOWED}.")
        # an uploaded file: the same, as a form field's error
        upload = SimpleUploadedFile("raeume.csv", content)
        with pytest.raises(ValidationError) as invalid:
            validate_import_upload(upload)
        assert invalid.value.messages == [str(refused.value)] and invalid.value.code == "file_type"
        assert upload.tell() == 0  # left readable for storing

    def test_a_csv_name_does_not_make_a_pdf_readable_and_an_odd_name_does_not_refuse_a_csv(self, tmp_path):
        (tmp_path / "ok.pdf").write_text(REGIONS_CSV, encoding="utf-8")
        check_import_file(tmp_path / "ok.pdf")
        (tmp_path / "bad.csv").write_bytes(PDF)
        with pytest.raises(ImportFileRefused, match="ist ein PDF-Dokument"):
            check_import_file(tmp_path / "bad.csv")

    def test_empty_file(self, tmp_path):
        (tmp_path / "leer.csv").write_bytes(b"")
        with pytest.raises(ImportFileRefused, match="^Die Datei „leer.csv“ ist leer.$"):
            check_import_file(tmp_path / "leer.csv")

    def test_text_judged_on_a_sample_whatever_the_size(self, tmp_path):
        """Only the first 64 KB are read; a multi-byte character cut at the
        sample's end is no error."""
        path = tmp_path / "gross.csv"
        line = "N1;Nördlich der Spree;ä\n".encode()
        path.write_bytes(line * (70_000 // len(line) + 1))
        check_import_file(path)

    def test_a_folder_is_left_to_the_importer(self, tmp_path):
        check_import_file(tmp_path)


@pytest.mark.django_db
class TestImportUploadsRefused:
    """A file that is no CSV/XLSX/GeoJSON is refused on every way in: the run
    fails with the message (shown as "Datei: …") and nothing is imported."""

    def test_import_page(self, client, planner, tree, eager_celery, django_capture_on_commit_callbacks):
        client.force_login(planner)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/importe/neu/", {"kind": "regions", "options": "",
                                                     "file": SimpleUploadedFile("raeume.csv", PDF)})
        assert response.status_code == 302
        run = ImportRun.objects.get()
        assert run.status == ImportRun.Status.FAILED and run.error_count == 1
        message = "Die Datei „raeume.csv“ ist ein PDF-Dokument; eingelesen werden CSV (Text), XLSX oder GeoJSON."
        assert run.errors == [{"line": None, "column": None, "message": message}]
        assert message in client.get(response["Location"]).content.decode()
        assert not Region.objects.filter(code="N1").exists()

    def test_import_api(self, planner, tree, eager_celery, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(planner).post("/api/v1/imports/", {
                "kind": "regions", "file": SimpleUploadedFile("raeume.xlsx", DOCX)}, format="multipart")
        assert response.status_code == 202, response.content
        run = ImportRun.objects.get(pk=response.json()["id"])
        assert run.status == ImportRun.Status.FAILED
        assert run.errors[0]["message"].startswith("Die Datei „raeume.xlsx“ ist ein Word-Dokument (DOCX)")
        data = client_for(planner).get(f"/api/v1/imports/{run.pk}/").json()
        assert data["status"] == "failed" and "Word-Dokument" in data["errors"][0]["message"]

    def test_a_good_file_still_imports(self, client, planner, tree, eager_celery, django_capture_on_commit_callbacks):
        client.force_login(planner)
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/importe/neu/", {"kind": "regions", "options": "",
                                          "file": SimpleUploadedFile("raeume.dat", REGIONS_CSV.encode("cp1252"))})
        run = ImportRun.objects.get()
        assert run.status == ImportRun.Status.SUCCEEDED, run.errors
        assert Region.objects.filter(code="N1").exists()

    def test_expenditure_upload(self, budget, planner):
        response = page_client(planner).post(f"/budgets/{budget.pk}/ausgaben/import/",
                                            {"file": SimpleUploadedFile("ist.csv", PNG)})
        assert response.status_code == 200
        assert "Die Datei „ist.csv“ ist ein PNG-Bild; eingelesen werden CSV (Text), XLSX oder GeoJSON." in \
            response.content.decode()
        assert not Expenditure.objects.exists()
        assert ImportRun.objects.get().status == ImportRun.Status.FAILED

    def test_management_command(self, tree, tmp_path, capsys):
        path = tmp_path / "raeume.csv"
        path.write_bytes(OLD_XLS)
        with pytest.raises(CommandError, match="Import abgelehnt"):
            call_command("import_data", "regions", str(path))
        assert "Datei: Die Datei „raeume.csv“ ist eine alte Office-Datei" in capsys.readouterr().err


@pytest.mark.django_db
class TestImportUploadSize:
    """Every upload has a size limit with a German message on the field."""

    @override_settings(IMPORT_MAX_UPLOAD_BYTES=100)
    def test_import_page(self, client, planner):
        client.force_login(planner)
        response = client.post("/importe/neu/", {"kind": "regions", "options": "",
                                                 "file": SimpleUploadedFile("raeume.csv", b"a;b\n" * 50)})
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="id_file_error"' in html and "Die Datei ist zu groß (200\xa0Bytes)" in html
        assert not ImportRun.objects.exists()

    @override_settings(IMPORT_MAX_UPLOAD_BYTES=1024 * 1024)
    def test_import_api(self, planner):
        response = client_for(planner).post("/api/v1/imports/", {
            "kind": "regions", "file": SimpleUploadedFile("raeume.csv", b"a;b\n" * 300_000)}, format="multipart")
        assert response.status_code == 400
        assert response.json()["file"] == ["Datei ist zu groß (höchstens 1 MB)."]
        assert not ImportRun.objects.exists()

    @override_settings(IMPORT_MAX_UPLOAD_BYTES=100)
    def test_expenditure_upload(self, budget, planner):
        response = page_client(planner).post(f"/budgets/{budget.pk}/ausgaben/import/",
                                            {"file": SimpleUploadedFile("ist.csv", b"a;b\n" * 50)})
        html = response.content.decode()
        assert 'id="id_file_error"' in html and "Die Datei ist zu groß (200\xa0Bytes)" in html
        assert not ImportRun.objects.exists()

    @override_settings(AGREEMENT_DOCUMENT_MAX_MB=1)
    def test_agreement_document_api(self, planner, org_a):
        agreement = AgreementFactory()
        response = client_for(planner).post("/api/v1/agreement-documents/", {
            "agreement": str(agreement.uuid), "kind": "annex",
            "file": SimpleUploadedFile("gross.pdf", PDF + b"0" * (1024 * 1024))}, format="multipart")
        assert response.status_code == 400
        assert response.json()["file"] == ["Die Datei „gross.pdf“ ist 1,0 MB groß; erlaubt sind höchstens 1 MB."]
        assert not AgreementDocument.objects.exists()


@pytest.fixture
def document(org_a):
    """A PDF of an agreement between organisation A and another."""
    agreement = AgreementFactory(title="Kooperation")
    AgreementPartyFactory(agreement=agreement, organization=org_a, role="lead")
    AgreementPartyFactory(agreement=agreement, role="partner")
    return documents.add_document(agreement, SimpleUploadedFile("Vertrag März.pdf", PDF), title="Vertrag",
                                  kind="contract", user=None)


@pytest.mark.django_db
class TestAgreementDocuments:
    def test_api_upload_checks_the_content(self, planner, document):
        response = client_for(planner).post("/api/v1/agreement-documents/", {
            "agreement": str(document.agreement.uuid), "kind": "annex",
            "file": SimpleUploadedFile("anlage.pdf", PNG)}, format="multipart")
        assert response.status_code == 400
        assert response.json()["file"][0].startswith("Der Inhalt von „anlage.pdf“ passt nicht zur Endung .pdf")
        assert AgreementDocument.objects.count() == 1

    @pytest.mark.parametrize("way", ["page", "api"])
    def test_download_is_an_attachment_browsers_may_not_sniff(self, way, provider_editor_a, document):
        if way == "page":
            url = f"/kooperation/vereinbarungen/{document.agreement.uuid}/dokumente/{document.uuid}/"
            client = page_client(provider_editor_a)
        else:
            url = f"/api/v1/agreement-documents/{document.uuid}/download/"
            client = client_for(provider_editor_a)
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"  # the type found on upload, not a guess
        assert response["Content-Disposition"] == "attachment; filename*=utf-8''Vertrag_M%C3%A4rz.pdf"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in response["Content-Security-Policy"]

    @pytest.mark.parametrize("way", ["page", "api"])
    def test_download_refused_to_who_does_not_see_the_agreement(self, way, provider_editor_b, document):
        if way == "page":
            url = f"/kooperation/vereinbarungen/{document.agreement.uuid}/dokumente/{document.uuid}/"
            client = page_client(provider_editor_b)
        else:
            url = f"/api/v1/agreement-documents/{document.uuid}/download/"
            client = client_for(provider_editor_b)
        assert client.get(url).status_code == 404
        anonymous = Client().get(url)
        assert anonymous.status_code in (302, 401, 403)
        assert not hasattr(anonymous, "streaming_content")


def served_folders() -> list[Path]:
    folders = [Path(settings.STATIC_ROOT), *(Path(p) for p in settings.STATICFILES_DIRS)]
    if getattr(settings, "WHITENOISE_ROOT", None):
        folders.append(Path(settings.WHITENOISE_ROOT))
    return [f.resolve() for f in folders]


def url_patterns(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            yield pattern


@pytest.mark.django_db
class TestStorage:
    def test_uploads_live_apart_from_every_served_folder(self):
        media = Path(settings.MEDIA_ROOT).resolve()
        for folder in served_folders():
            assert media != folder and folder not in media.parents and media not in folder.parents, folder
        assert Path(private_storage().location).resolve().parent == media

    def test_no_route_serves_files_from_disk(self):
        views = [p.callback for p in url_patterns(get_resolver().url_patterns)]
        assert static.serve not in views
        assert not any(getattr(v, "__name__", "") == "serve" and v.__module__.startswith("django.views.static")
                       for v in views)

    def test_private_files_have_no_url(self, document):
        with pytest.raises(ValueError, match="no URL"):
            document.file.url  # noqa: B018

    def test_stored_files_are_not_reachable(self, planner, document, tree, eager_celery,
                                            django_capture_on_commit_callbacks):
        client = page_client(planner)
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/importe/neu/", {"kind": "regions", "options": "",
                                          "file": SimpleUploadedFile("raeume.csv", REGIONS_CSV.encode())})
        run = ImportRun.objects.get()
        media = Path(settings.MEDIA_ROOT).resolve()
        for field in (run.file, document.file):
            path = Path(field.path).resolve()
            assert path.is_file() and media in path.parents
            relative = path.relative_to(media).as_posix()
            for url in (f"/media/{relative}", f"/{relative}", f"/static/{relative}", f"/static/{path.name}",
                        f"/{settings.MEDIA_URL.strip('/')}/{relative}".replace("//", "/")):
                response = client.get(url)
                assert response.status_code == 404, url
                assert not hasattr(response, "streaming_content"), url
