"""Documents of agreements: upload checks (type by content, not by name; size)
and storing. Files live in private storage (``cooperation.storage``) and are
served only by a view that checks the agreement's access."""

import io
import zipfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from .models import Agreement, AgreementDocument

#: extension → (content type, check of the first bytes / the container)
PDF, DOCX, XLSX, ODT, ODS, PNG, JPEG = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "image/png",
    "image/jpeg",
)
TYPES = {"pdf": PDF, "docx": DOCX, "xlsx": XLSX, "odt": ODT, "ods": ODS, "png": PNG, "jpg": JPEG, "jpeg": JPEG}
ALLOWED_TEXT = "PDF, DOCX, XLSX, ODT, ODS, PNG, JPEG"


def max_bytes() -> int:
    return getattr(settings, "AGREEMENT_DOCUMENT_MAX_MB", 10) * 1024 * 1024


def _zip_kind(head: bytes, upload) -> str | None:
    """The office format inside a ZIP container, or None."""
    upload.seek(0)
    try:
        with zipfile.ZipFile(io.BytesIO(upload.read())) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                return mimetype if mimetype in (ODT, ODS) else None
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return DOCX
                if any(n.startswith("xl/") for n in names):
                    return XLSX
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return None


def sniff(upload) -> str | None:
    """The content type by the file's content (None: not an allowed type)."""
    upload.seek(0)
    head = upload.read(16)
    if head.startswith(b"%PDF-"):
        kind = PDF
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = PNG
    elif head.startswith(b"\xff\xd8\xff"):
        kind = JPEG
    elif head.startswith(b"PK\x03\x04"):
        kind = _zip_kind(head, upload)
    else:
        kind = None
    upload.seek(0)
    return kind


def validate_upload(upload) -> str:
    """Checks an uploaded file; returns its content type or raises a
    ValidationError on the field ``file`` with a German message."""
    name = getattr(upload, "name", "") or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if upload.size == 0:
        raise ValidationError({"file": _("Die Datei „%(name)s“ ist leer.") % {"name": name}})
    if upload.size > max_bytes():
        raise ValidationError({"file": _("Die Datei „%(name)s“ ist %(size)s MB groß; erlaubt sind höchstens %(max)s MB.")
                               % {"name": name, "size": f"{upload.size / 1024 / 1024:.1f}".replace(".", ","),
                                  "max": max_bytes() // 1024 // 1024}})
    if extension not in TYPES:
        raise ValidationError({"file": _("Dateityp „.%(ext)s“ ist nicht erlaubt. Erlaubt sind: %(allowed)s.")
                               % {"ext": extension or "?", "allowed": ALLOWED_TEXT}})
    kind = sniff(upload)
    if kind != TYPES[extension]:
        raise ValidationError({"file": _("Der Inhalt von „%(name)s“ passt nicht zur Endung .%(ext)s (erlaubt sind: "
                                         "%(allowed)s).") % {"name": name, "ext": extension, "allowed": ALLOWED_TEXT}})
    return kind


@transaction.atomic
def add_document(agreement: Agreement, upload, *, title: str, kind: str, user) -> AgreementDocument:
    content_type = validate_upload(upload)
    original = get_valid_filename(upload.name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]) or "dokument"
    document = AgreementDocument(agreement=agreement, title=title or original, kind=kind, original_name=original,
                                 content_type=content_type, size=upload.size)
    document.stamp(user)
    document.file.save(original, upload, save=False)
    try:
        document.save()
    except Exception:
        document.file.storage.delete(document.file.name)  # no orphaned file
        raise
    return document


def delete_document(document: AgreementDocument) -> None:
    """Deletes the record and, once committed, the file."""
    storage, name = document.file.storage, document.file.name
    document.delete()
    transaction.on_commit(lambda: storage.delete(name))
