"""What an import file is, judged by its content (never by its name): a text
file (CSV in UTF-8, UTF-16 with BOM or Windows-1252; GeoJSON) or an XLSX
workbook. Anything else — a PDF, an image, an old .xls, a Word file, an
archive, a program, binary data — is refused with a German message naming the
file, before an importer reads it.

``check_import_file(path)`` checks a file on disk (``core.imports.base.execute``
calls it for every import from a file: upload page, API, expenditure upload,
management commands); ``validate_import_upload(upload)`` checks an uploaded
file for a form field, before anything is stored.
"""

import codecs
import os
import zipfile
from pathlib import Path

from django.core.exceptions import ValidationError

#: bytes read from the start of a file to judge it
SAMPLE_BYTES = 64 * 1024
ALLOWED = "CSV (Text), XLSX oder GeoJSON"

# Formats recognised by their first bytes, with what the message calls them.
SIGNATURES = (
    (b"%PDF-", "ein PDF-Dokument"),
    (b"\x89PNG\r\n\x1a\n", "ein PNG-Bild"),
    (b"\xff\xd8\xff", "ein JPEG-Bild"),
    (b"GIF87a", "ein GIF-Bild"),
    (b"GIF89a", "ein GIF-Bild"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "eine alte Office-Datei (z. B. .xls oder .doc; bitte als XLSX oder CSV "
                                          "speichern)"),
    (b"\x1f\x8b", "ein gzip-Archiv"),
    (b"7z\xbc\xaf\x27\x1c", "ein 7-Zip-Archiv"),
    (b"Rar!\x1a\x07", "ein RAR-Archiv"),
    (b"{\\rtf", "ein RTF-Dokument"),
    (b"SQLite format 3\x00", "eine SQLite-Datenbank"),
)
# C0 control characters that do not occur in text files (tab, line feed, form
# feed, carriage return and Ctrl-Z, an old end-of-file mark, do).
_CONTROL = set(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1A}


class ImportFileRefused(ValueError):
    """The file is not one an import reads (a ValueError, so an import run
    records it as a file error)."""


def _zip_kind(archive: zipfile.ZipFile) -> str | None:
    """None for an XLSX workbook; else what the ZIP container holds."""
    names = set(archive.namelist())
    if "[Content_Types].xml" in names:
        if any(n.startswith("xl/") for n in names):
            return None
        if any(n.startswith("word/") for n in names):
            return "ein Word-Dokument (DOCX)"
        if any(n.startswith("ppt/") for n in names):
            return "eine PowerPoint-Präsentation"
    if "mimetype" in names:
        return "eine OpenDocument-Datei (z. B. ODS; bitte als XLSX oder CSV speichern)"
    return "ein ZIP-Archiv"


def _text_problem(sample: bytes, complete: bool) -> str | None:
    """None for text the reader takes (UTF-16 with BOM, UTF-8, Windows-1252);
    else what the sample is instead."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if b"\x00" in sample:
        return "keine Textdatei (sie enthält Binärdaten)"
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        try:
            text = sample.decode("cp1252")
        except UnicodeDecodeError:
            return "keine Textdatei in UTF-8 oder Windows-1252"
    controls = sum(1 for ch in text if ord(ch) in _CONTROL)
    if controls > max(2, len(text) // 100):
        return "keine Textdatei (sie enthält Steuerzeichen)"
    return None


def _problem(head: bytes, size: int, open_zip) -> str | None:
    if size == 0:
        return "leer"
    for signature, name in SIGNATURES:
        if head.startswith(signature):
            return name
    if head.startswith(b"PK\x03\x04"):
        try:
            with open_zip() as archive:
                return _zip_kind(archive)
        except (zipfile.BadZipFile, OSError, ValueError):
            return "ein beschädigtes ZIP-Archiv (keine lesbare XLSX-Arbeitsmappe)"
    return _text_problem(head, complete=size <= len(head))


def _message(name: str, problem: str) -> str:
    if problem == "leer":
        return f"Die Datei „{name}“ ist leer."
    return f"Die Datei „{name}“ ist {problem}; eingelesen werden {ALLOWED}."


def check_import_file(path, name: str | None = None) -> None:
    """Refuses (``ImportFileRefused``) a file on disk an import cannot read;
    ``name`` is how the message calls it (default: the file's name). Anything
    that is not a regular file (e.g. a folder) is left to the importer."""
    path = Path(path)
    if not path.is_file():
        return
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES)
    problem = _problem(head, path.stat().st_size, lambda: zipfile.ZipFile(path))
    if problem:
        raise ImportFileRefused(_message(Path(name).name if name else path.name, problem))


def validate_import_upload(upload) -> None:
    """Refuses an uploaded import file (Django's UploadedFile) with a
    ``ValidationError`` for its form field (raise it from ``clean_file``; a
    serializer's ``validate_file`` passes on its ``messages``)."""
    name = os.path.basename(getattr(upload, "name", "") or "") or "Datei"
    upload.seek(0)
    head = upload.read(SAMPLE_BYTES)
    upload.seek(0)

    def open_zip():
        upload.seek(0)
        return zipfile.ZipFile(upload)

    try:
        problem = _problem(head, upload.size, open_zip)
    finally:
        upload.seek(0)
    if problem:
        raise ValidationError(_message(name, problem), code="file_type")
