"""Dashboard tables: one definition per table, shown as HTML and exported as
CSV and XLSX from the same rows.

A page builds :class:`DataTable` objects (typed values: ``int``, ``Decimal``,
``date``, text, ``None``; a :class:`Cell` adds a link), renders each with
``{% include "includes/data_table.html" with table=… %}`` and answers
``?export=<key>&format=csv|xlsx`` with :func:`export_response` before it
renders — so every table on a dashboard is downloadable with exactly the rows
the page shows, and every table works without JavaScript.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.formats import date_format, get_format
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from core.api.renderers import write_csv, write_xlsx

TEXT, INT, DECIMAL, MONEY, PERCENT, DATE = "text", "int", "decimal", "money", "percent", "date"
NUMERIC = {INT, DECIMAL, MONEY, PERCENT}
EMPTY_CELL = "–"
EXPORT_FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Column:
    key: str  # the export's column name (English, stable for integrations)
    label: str  # the German header on the page
    kind: str = TEXT
    decimals: int = 1  # for DECIMAL and PERCENT

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC


@dataclass(frozen=True)
class Cell:
    """A value with a link (the page links it; the export holds the value)."""

    value: object
    url: str = ""
    note: str = ""  # shown after the value in a muted span, e.g. a code

    def __str__(self) -> str:
        return "" if self.value is None else str(self.value)


def raw(value):
    return value.value if isinstance(value, Cell) else value


def _rounded(value, decimals: int):
    """Half up, as in German administration (Django's number_format rounds half to even)."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return value


def separators() -> tuple[str, str]:
    """(decimal, thousands) separator of the active language."""
    return get_format("DECIMAL_SEPARATOR"), get_format("THOUSAND_SEPARATOR")


def grouped(value, decimals: int, seps: tuple[str, str] | None = None) -> str:
    """A number with the active language's separators, always grouped
    (1.234.567,89 in German) — what ``number_format(force_grouping=True)`` gives,
    at a fraction of its cost (tables have thousands of cells)."""
    decimal_sep, thousands = seps or separators()
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", decimal_sep).replace("\x00", thousands)


def display(value, column: Column, seps: tuple[str, str] | None = None) -> str:
    """The German text of a cell: 1.234.567,89 €, 12,5 %, 24.11.2026."""
    value = raw(value)
    if value is None or value == "":
        return ""
    if column.kind in (MONEY, PERCENT, DECIMAL):
        value = _rounded(value, 2 if column.kind == MONEY else column.decimals)
    if column.kind == MONEY:
        return f"{grouped(value, 2, seps)}\u00a0€"
    if column.kind == PERCENT:
        return f"{grouped(value, column.decimals, seps)}\u00a0%"
    if column.kind == DECIMAL:
        return grouped(value, column.decimals, seps)
    if column.kind == INT:
        return grouped(value, 0, seps)
    if column.kind == DATE and isinstance(value, date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


@dataclass
class DataTable:
    key: str  # ?export=<key>; unique on its page
    caption: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    footer: list | None = None  # a totals row (same columns), exported as the last row
    empty: str = ""  # the sentence shown instead of an empty table
    caption_hidden: bool = False

    def __post_init__(self):
        for row in [*self.rows, *([self.footer] if self.footer else [])]:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.key}: a row has {len(row)} cells for {len(self.columns)} columns")

    def html_rows(self) -> Iterable[list[dict]]:
        seps = separators()
        for row in self.rows:
            yield self._cells(row, seps)

    def body_html(self) -> SafeString:
        """The rows as HTML (escaped here, not in a template loop: a table of 542
        regions × 48 columns renders many times faster this way)."""
        seps, out = separators(), []
        for row in self.rows:
            parts = []
            for i, (value, column) in enumerate(zip(row, self.columns, strict=True)):
                text = display(value, column, seps)
                html = escape(text) if text else EMPTY_CELL
                if isinstance(value, Cell):
                    if value.url:
                        html = f'<a href="{escape(value.url)}">{html}</a>'
                    if value.note:
                        html = f'{html} <span class="muted">({escape(value.note)})</span>'
                if i == 0:
                    parts.append(f'<th scope="row">{html}</th>')
                elif column.numeric:
                    parts.append(f'<td class="num">{html}</td>')
                else:
                    parts.append(f"<td>{html}</td>")
            out.append("<tr>" + "".join(parts) + "</tr>")
        return mark_safe("\n".join(out))  # noqa: S308 - every text and URL escaped above

    def html_footer(self) -> list[dict] | None:
        return self._cells(self.footer, separators()) if self.footer else None

    def _cells(self, row, seps) -> list[dict]:
        return [{"text": display(value, column, seps), "url": value.url if isinstance(value, Cell) else "",
                 "note": value.note if isinstance(value, Cell) else "", "numeric": column.numeric,
                 "header": i == 0} for i, (value, column) in enumerate(zip(row, self.columns, strict=True))]

    def export_rows(self) -> list[list]:
        """Typed values as the page shows them: whole numbers as int, money to the cent."""
        rows = [*self.rows, *([self.footer] if self.footer else [])]
        return [[_export_value(v, c) for v, c in zip(row, self.columns, strict=True)] for row in rows]

    def export_url(self, request, fmt: str) -> str:
        query = request.GET.copy()
        query["export"], query["format"] = self.key, fmt
        return f"{request.path}?{query.urlencode()}"


def _export_value(value, column: Column):
    value = raw(value)
    if isinstance(value, Promise):  # a lazy translation (e.g. a choice label)
        return str(value)
    if isinstance(value, float):  # never money; indicator values are Decimals
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if column.kind == INT and value == value.to_integral_value():
            return int(value)
        if column.kind == MONEY:
            return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return value


def export_response(request, tables: Iterable[DataTable], stem: str) -> HttpResponse | None:
    """The file for ``?export=<key>&format=csv|xlsx``, None when the request is
    not an export; 404 for an unknown table or format."""
    key = request.GET.get("export")
    if not key:
        return None
    fmt = request.GET.get("format", "csv")
    table = next((t for t in tables if t.key == key), None)
    if table is None or fmt not in EXPORT_FORMATS:
        raise Http404("unknown table or format")
    header = [c.key for c in table.columns]
    name = slugify(f"{stem}-{table.key}") or "tabelle"
    if fmt == "csv":
        body, content_type = write_csv(header, table.export_rows()), "text/csv; charset=utf-8"
    else:
        body = write_xlsx(header, table.export_rows(), sheet=table.key[:31])
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate():%Y-%m-%d}.{fmt}"'
    return response


def attach_export_urls(request, tables: Iterable[DataTable]) -> None:
    for table in tables:
        table.csv_url = table.export_url(request, "csv")
        table.xlsx_url = table.export_url(request, "xlsx")


def tables_response(request, tables, stem: str, render):
    """A page with tables: the file for ``?export=<key>&format=csv|xlsx``, else
    ``render()`` with every table's download links set."""
    exported = export_response(request, tables, stem=stem)
    if exported is not None:
        return exported
    attach_export_urls(request, tables)
    return render()
