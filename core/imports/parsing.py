"""Parsing cells of real files: numbers with decimal comma or point, periods."""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

_THOUSANDS_DOT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")
_THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3})+$")


class CellError(ValueError):
    """A cell that cannot be read; the message (German) names the problem."""


# German official statistics' symbols (Zeichenerklärung): "–" nothing there (exactly
# zero); "." unknown or withheld; "x" not applicable. Empty cells are missing.
MISSING_SYMBOLS = {"", ".", "x", "X", "...", "NA", "n/a", "null", "NULL"}
ZERO_SYMBOLS = {"–", "-", "—"}


def is_missing(text: str | None) -> bool:
    return text is None or text.strip() in MISSING_SYMBOLS


def parse_decimal(text: str, decimal: str | None = None) -> Decimal:
    """'1.234,56' → 1234.56; '2.82' → 2.82; '-0,5' → -0.5.

    ``decimal``: ',' or '.' to force the decimal separator; None guesses per cell:
    with both separators, the last one is the decimal separator; a lone comma is
    a decimal comma; repeated dots ('1.234.567') are thousands separators.
    """
    s = text.strip().replace("\u00a0", "").replace(" ", "").replace("\u2212", "-")
    if not s:
        raise CellError("leer")
    if s in ZERO_SYMBOLS:
        return Decimal(0)
    if decimal == ",":
        s = s.replace(".", "").replace(",", ".")
    elif decimal == ".":
        s = s.replace(",", "")
    elif "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif "," in s:
        s = s.replace(",", "") if _THOUSANDS_COMMA.match(s) and s.count(",") > 1 else s.replace(",", ".")
    elif _THOUSANDS_DOT.match(s) and s.count(".") > 1:
        s = s.replace(".", "")
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise CellError(f"keine Zahl: {text.strip()!r}") from None
    if not value.is_finite():
        raise CellError(f"keine endliche Zahl: {text.strip()!r}")
    return value


_PERIOD_PATTERNS = [
    (re.compile(r"^(\d{4})$"), lambda m: m[1]),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), lambda m: f"{m[1]}-{int(m[2]):02d}"),
    (re.compile(r"^(\d{1,2})/(\d{4})$"), lambda m: f"{m[2]}-{int(m[1]):02d}"),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), lambda m: _iso(m[1], m[2], m[3])),
    (re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$"), lambda m: _iso(m[3], m[2], m[1])),
]


def _iso(y, m, d) -> str:
    try:
        return date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        raise CellError(f"kein gültiges Datum: {d}.{m}.{y}") from None


def parse_period(text: str) -> str:
    """A period as a sortable string: '2022', '2022-06' or '2022-06-30'.

    Accepts 2022, 2022-6, 06/2022, 2022-06-30 and 30.06.2022.
    """
    s = (text or "").strip()
    for pattern, build in _PERIOD_PATTERNS:
        m = pattern.match(s)
        if m:
            result = build(m)
            if len(result) >= 7 and not 1 <= int(result[5:7]) <= 12:
                raise CellError(f"kein gültiger Monat: {s!r}")
            return result
    raise CellError(f"Zeitraum {s!r} nicht lesbar (erwartet z. B. 2022, 2022-06, 30.06.2022)")
