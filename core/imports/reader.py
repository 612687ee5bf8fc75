"""Reading real tabular files as they come.

UTF-8 with or without BOM or Windows-1252; ``;``, ``,``, tab or ``|`` as
delimiter; CRLF or LF; XLSX. Rows are streamed with their line numbers, so a
file of any size is read in bounded memory.
"""

import codecs
import csv
import datetime
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
DELIMITERS = (";", ",", "\t", "|")


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (line number in the file, cells)
    encoding: str
    delimiter: str | None
    _close: object = None

    def close(self):
        if self._close is not None:
            self._close()


def detect_encoding(path: Path) -> str:
    """BOM → that encoding; valid UTF-8 throughout → utf-8; otherwise cp1252."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def is_xlsx(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def open_table(path, *, delimiter: str | None = None, encoding: str | None = None, sheet: str | None = None) -> Table:
    path = Path(path)
    if is_xlsx(path):
        return _open_xlsx(path, sheet)
    enc = encoding or detect_encoding(path)
    f = open(path, encoding=enc, newline="")
    try:
        first = f.readline()
        f.seek(0)
        delim = delimiter or sniff_delimiter(first)
        reader = csv.reader(f, delimiter=delim)
        try:
            header = [h.strip().lstrip("\ufeff") for h in next(reader)]
        except StopIteration:
            header = []
    except Exception:
        f.close()
        raise

    def rows():
        try:
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # blank line
                yield reader.line_num, cells
        finally:
            f.close()

    return Table(header=header, rows=rows(), encoding=enc, delimiter=delim, _close=f.close)


def _open_xlsx(path: Path, sheet: str | None) -> Table:
    from openpyxl import load_workbook

    # A file object: openpyxl refuses paths not ending in .xlsx (uploads may lack it).
    handle = open(path, "rb")
    wb = load_workbook(handle, read_only=True, data_only=True)
    ws = wb[sheet] if sheet else wb.worksheets[0]
    it = ws.iter_rows(values_only=True)

    def text(v):
        if v is None:
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, datetime.datetime):  # a date cell: Excel stores dates as datetimes
            return v.date().isoformat() if v.time() == datetime.time(0) else v.isoformat(sep=" ")
        if isinstance(v, datetime.date):
            return v.isoformat()
        return str(v)

    try:
        header = [text(v).strip() for v in next(it)]
    except StopIteration:
        header = []

    def rows():
        try:
            for n, values in enumerate(it, start=2):
                cells = [text(v) for v in values]
                if any(c.strip() for c in cells):
                    yield n, cells
        finally:
            close()

    def close():
        wb.close()
        handle.close()

    return Table(header=header, rows=rows(), encoding="xlsx", delimiter=None, _close=close)


def open_text_table(text: str, *, delimiter: str | None = None) -> Table:
    """The same for text already in memory (API payloads)."""
    f = io.StringIO(text.lstrip("\ufeff"), newline="")
    first = f.readline()
    f.seek(0)
    delim = delimiter or sniff_delimiter(first)
    reader = csv.reader(f, delimiter=delim)
    header = [h.strip() for h in next(reader, [])]

    def rows():
        for cells in reader:
            if any(c.strip() for c in cells):
                yield reader.line_num, cells

    return Table(header=header, rows=rows(), encoding="utf-8", delimiter=delim)
