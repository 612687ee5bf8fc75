"""CSV and XLSX exports of API lists: ``?format=csv`` / ``?format=xlsx`` (or the
``Accept`` header ``text/csv`` / the XLSX media type).

A viewset that mixes in :class:`ExportViewSetMixin` offers both renderers on
its list; an export holds *every* row the filters select (pagination is off
for these formats), one column per field of the serializer — nested objects
become ``parent.child`` columns, lists of keys one cell joined with ", ". The
rows are the serializer's output, so the export shows exactly what the JSON
list shows, with the same access scoping and the same (constant) queries.

- CSV for German Excel: UTF-8 with BOM, ``;`` as separator, CRLF, decimal
  comma, ``ja``/``nein``, times in local time as ``YYYY-MM-DD HH:MM:SS``.
- XLSX (openpyxl, write-only mode): numbers, dates and booleans as native
  cells, a bold, frozen header row.
- Text that a spreadsheet would run as a formula (CSV: starting with ``=``,
  ``+``, ``-``, ``@``, tab or CR) is prefixed with ``'``; XLSX cells are
  always stored as text, never as formulas (CSV/formula injection).
- An error (401/403/404/400) is answered as JSON, not as a table.
"""

import csv
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify
from drf_spectacular.plumbing import is_serializer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from .schema import AutoSchema

LIST_SEPARATOR = ", "
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_CELL = 32767  # characters Excel keeps in one cell
XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML 1.0 refuses

DECIMAL, DATETIME, DATE = "decimal", "datetime", "date"


# --- the table: columns and typed cells from the serializer's output -----------------


def _readable(serializer):
    return [(name, field) for name, field in serializer.fields.items() if not field.write_only]


def _column_kinds(serializer, prefix="") -> dict[str, str]:
    """Column path → kind, for fields whose JSON is a string but whose value is
    a number or a time (decimals are strings in this API)."""
    kinds = {}
    for name, field in _readable(serializer):
        path = prefix + name
        if isinstance(field, serializers.Serializer):
            kinds.update(_column_kinds(field, f"{path}."))
        elif isinstance(field, serializers.DecimalField):
            kinds[path] = DECIMAL
        elif isinstance(field, serializers.DateTimeField):
            kinds[path] = DATETIME
        elif isinstance(field, serializers.DateField):
            kinds[path] = DATE
    return kinds


def _column_paths(serializer, prefix="") -> list[str]:
    paths = []
    for name, field in _readable(serializer):
        if isinstance(field, serializers.Serializer):
            paths += _column_paths(field, f"{prefix}{name}.")
        else:
            paths.append(prefix + name)
    return paths


def flatten(row: dict, prefix: str = "") -> dict:
    """Nested objects → ``parent.child`` keys (an empty object gives no column)."""
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _scalar(value) -> bool:
    return not isinstance(value, dict | list | tuple)


def typed(value, kind: str | None):
    """A JSON value → the Python value of its cell (None for empty)."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        if all(_scalar(v) for v in value):
            return LIST_SEPARATOR.join("" if v is None else str(v) for v in value)
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, str):
        if value == "" and kind is not None:
            return None
        if kind == DECIMAL:
            try:
                return Decimal(value)
            except InvalidOperation:
                return value
        if kind == DATETIME:
            parsed = parse_datetime(value)
            if parsed is not None:
                if timezone.is_aware(parsed):
                    parsed = timezone.localtime(parsed)
                return parsed.replace(tzinfo=None)
        if kind == DATE:
            parsed = parse_date(value)
            if parsed is not None:
                return parsed
        return value
    return str(value)


class Table:
    """Columns and typed rows of the data a list view returns."""

    def __init__(self, data, view=None):
        rows = self._rows(data)
        serializer = self._serializer(view)
        kinds = _column_kinds(serializer) if serializer is not None else {}
        top_order = {name: i for i, (name, _f) in enumerate(_readable(serializer))} if serializer is not None else {}
        flat = [flatten(r) if isinstance(r, dict) else {"value": r} for r in rows]
        if flat:
            seen = {}
            for r in flat:
                for key in r:
                    seen.setdefault(key, len(seen))
            self.columns = sorted(seen, key=lambda k: (top_order.get(k.split(".", 1)[0], len(top_order)), seen[k]))
        else:
            self.columns = _column_paths(serializer) if serializer is not None else []
        self.rows = [[typed(r.get(c), kinds.get(c)) for c in self.columns] for r in flat]

    @staticmethod
    def _rows(data) -> list:
        if data is None:
            return []
        if isinstance(data, dict):
            if isinstance(data.get("results"), list) and "count" in data:
                return data["results"]  # a paginated body (should not happen: exports are not paginated)
            return [data]
        return list(data)

    @staticmethod
    def _serializer(view):
        get_serializer = getattr(view, "get_serializer", None)
        if get_serializer is None:
            return None
        try:
            serializer = get_serializer()
        except Exception:  # noqa: BLE001 - the header then comes from the rows alone
            return None
        return serializer if isinstance(serializer, serializers.Serializer) else None


def export_stem(request) -> str:
    """``/api/v1/services/`` → ``services``."""
    parts = [p for p in (request.path if request is not None else "").split("/") if p]
    if parts[:2] == ["api", "v1"]:
        parts = parts[2:]
    return slugify("-".join(parts)) or "export"


def export_filename(request, extension: str) -> str:
    """``/api/v1/services/`` → ``services-2026-01-31.csv``."""
    return f"{export_stem(request)}-{timezone.localdate():%Y-%m-%d}.{extension}"


# --- renderers ----------------------------------------------------------------------


class TabularRenderer(BaseRenderer):
    """Base of the table formats: builds the :class:`Table`, names the file."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        context = renderer_context or {}
        response = context.get("response")
        if response is not None and response.status_code >= 400:
            # not reached through ExportViewSetMixin (errors become JSON there)
            return JSONRenderer().render(data, "application/json", context)
        table = Table(data, context.get("view"))
        if response is not None and not response.has_header("Content-Disposition"):
            response["Content-Disposition"] = f'attachment; filename="{export_filename(context.get("request"), self.format)}"'
        return self.render_table(table, context)

    def render_table(self, table: Table, context) -> bytes:  # pragma: no cover - subclasses
        raise NotImplementedError


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, float):
        return ("%.15g" % value).replace(".", ",")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(header: list[str], rows) -> bytes:
    """CSV for German Excel: UTF-8 with BOM, ``;``, CRLF, decimal comma."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_xlsx(header: list[str], rows, sheet: str) -> bytes:
    """One sheet (openpyxl, write-only): a bold, frozen header row; numbers,
    dates and booleans as native cells, text never as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet((sheet or "export")[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value):
        if isinstance(value, str):
            value = XLSX_ILLEGAL.sub("", value)[:XLSX_MAX_CELL]
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # text, never a formula
        elif isinstance(value, datetime):
            c.number_format = "DD.MM.YYYY HH:MM:SS"
        elif isinstance(value, date):
            c.number_format = "DD.MM.YYYY"
        return c

    header_cells = []
    for name in header:
        c = cell(name)
        c.font = bold
        header_cells.append(c)
    ws.append(header_cells)
    for row in rows:
        ws.append([cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


class CSVRenderer(TabularRenderer):
    """CSV for German Excel: UTF-8 with BOM, ``;``, CRLF, decimal comma."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render_table(self, table, context) -> bytes:
        return write_csv(table.columns, table.rows)


class XLSXRenderer(TabularRenderer):
    """An Excel workbook with one sheet (openpyxl, write-only mode)."""

    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render_table(self, table, context) -> bytes:
        return write_xlsx(table.columns, table.rows, sheet=export_stem(context.get("request")))


EXPORT_RENDERERS = (CSVRenderer, XLSXRenderer)


# --- the viewset side ---------------------------------------------------------------


class ExportAutoSchema(AutoSchema):
    """Documents the exports of a list: the ``format`` parameter and the CSV and
    XLSX bodies beside the paginated JSON."""

    def _exporting(self) -> bool:
        exports = getattr(self.view, "exports_enabled", None)
        return self.method == "GET" and exports is not None and exports()

    def get_override_parameters(self):
        params = super().get_override_parameters()
        if self._exporting():
            formats = self.map_renderers("format")
            param = OpenApiParameter(
                "format", str, enum=formats,
                description="csv / xlsx: alle gefilterten Zeilen als Tabelle (ohne Seitenaufteilung)",
            )
            params = [param, *params]
        return params

    def get_response_serializers(self):
        base = super().get_response_serializers()
        if not self._exporting() or not is_serializer(base):
            return base
        tabular = {r.media_type: r for r in self.view.get_renderers() if isinstance(r, TabularRenderer)}
        responses = {}
        for media_type in self.map_renderers("media_type"):
            if media_type in tabular:
                kind = OpenApiTypes.STR if tabular[media_type].charset else OpenApiTypes.BINARY
                responses[(200, media_type)] = OpenApiResponse(kind, description="Export aller gefilterten Zeilen")
            else:
                responses[(200, media_type)] = base
        return responses


class ExportViewSetMixin:
    """Offers CSV and XLSX on the list (``export_actions``) of a viewset;
    exports are not paginated. Put it before the base viewset class."""

    export_actions = ("list",)
    export_renderer_classes = EXPORT_RENDERERS
    schema = ExportAutoSchema()

    def exports_enabled(self) -> bool:
        return getattr(self, "action", None) in self.export_actions

    def get_renderers(self):
        renderers = super().get_renderers()
        if self.exports_enabled():
            renderers += [cls() for cls in self.export_renderer_classes]
        return renderers

    def is_export(self) -> bool:
        return isinstance(getattr(getattr(self, "request", None), "accepted_renderer", None), TabularRenderer)

    def paginate_queryset(self, queryset):
        if self.is_export():
            return None
        return super().paginate_queryset(queryset)

    def finalize_response(self, request, response, *args, **kwargs):
        if (
            isinstance(response, Response)
            and response.status_code >= 400
            and isinstance(getattr(request, "accepted_renderer", None), TabularRenderer)
        ):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
