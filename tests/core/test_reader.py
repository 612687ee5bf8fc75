"""Reading real tabular files (core.imports.reader) and parsing their cells
(core.imports.parsing): encodings, delimiters, line endings, XLSX, German
numbers and periods. No database needed."""

import codecs
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from core.imports.parsing import CellError, is_missing, parse_decimal, parse_period
from core.imports.reader import detect_encoding, open_table, open_text_table, sniff_delimiter


def read_all(path, **kwargs):
    table = open_table(path, **kwargs)
    try:
        return table, list(table.rows)
    finally:
        table.close()


class TestEncodings:
    def test_utf8_without_bom(self, tmp_path):
        path = tmp_path / "plain.csv"
        path.write_bytes("code;name\n0110;Müllerstraße\n".encode())
        table, rows = read_all(path)
        assert table.encoding == "utf-8"
        assert table.header == ["code", "name"]
        assert rows == [(2, ["0110", "Müllerstraße"])]

    def test_utf8_with_bom_header_is_clean(self, tmp_path):
        path = tmp_path / "bom.csv"
        path.write_bytes(codecs.BOM_UTF8 + "PLR-ID;Name\n01100101;Stülerstraße\n".encode())
        table, rows = read_all(path)
        assert table.encoding == "utf-8-sig"
        assert table.header[0] == "PLR-ID"  # no "\ufeff" glued to the first column name
        assert rows == [(2, ["01100101", "Stülerstraße"])]

    def test_windows_1252_with_umlauts(self, tmp_path):
        path = tmp_path / "ansi.csv"
        path.write_bytes("Schlüssel;Bezeichnung\n0110;Größe – Äußeres\n".encode("cp1252"))
        assert detect_encoding(path) == "cp1252"
        table, rows = read_all(path)
        assert table.header == ["Schlüssel", "Bezeichnung"]
        assert rows == [(2, ["0110", "Größe – Äußeres"])]

    def test_non_utf8_byte_late_in_a_large_file_still_detected(self, tmp_path):
        # the invalid byte lies beyond the first read chunk (1 MiB)
        path = tmp_path / "late.csv"
        body = "a;b\n" + "1;2\n" * 300_000
        path.write_bytes(body.encode("ascii") + "3;Straße\n".encode("cp1252"))
        assert detect_encoding(path) == "cp1252"

    def test_crlf_line_endings(self, tmp_path):
        path = tmp_path / "crlf.csv"
        path.write_bytes(codecs.BOM_UTF8 + b"a;b\r\n1;2\r\n3;4\r\n")
        table, rows = read_all(path)
        assert table.header == ["a", "b"]
        assert rows == [(2, ["1", "2"]), (3, ["3", "4"])]
        assert all("\r" not in c for _, cells in rows for c in cells)

    def test_blank_lines_skipped_line_numbers_kept(self, tmp_path):
        path = tmp_path / "blank.csv"
        path.write_text("a;b\n1;2\n\n;\n5;6\n", encoding="utf-8")
        _, rows = read_all(path)
        assert rows == [(2, ["1", "2"]), (5, ["5", "6"])]

    def test_explicit_encoding_wins(self, tmp_path):
        path = tmp_path / "latin.csv"
        path.write_bytes("a;b\n1;Ä\n".encode("cp1252"))
        table, rows = read_all(path, encoding="latin-1")
        assert table.encoding == "latin-1"
        assert rows == [(2, ["1", "Ä"])]

    def test_empty_file(self, tmp_path):
        path = tmp_path / "empty.csv"
        path.write_bytes(b"")
        table, rows = read_all(path)
        assert table.header == []
        assert rows == []


class TestDelimiters:
    @pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
    def test_sniffed_from_header(self, tmp_path, delimiter):
        path = tmp_path / "d.csv"
        path.write_text(delimiter.join(["code", "name", "value"]) + "\n" + delimiter.join(["01", "A", "1,5"]) + "\n",
                        encoding="utf-8")
        if delimiter == ",":
            # with ',' as delimiter a decimal comma must be quoted
            path.write_text('code,name,value\n01,A,"1,5"\n', encoding="utf-8")
        table, rows = read_all(path)
        assert table.delimiter == delimiter
        assert table.header == ["code", "name", "value"]
        assert rows == [(2, ["01", "A", "1,5"])]

    def test_semicolon_wins_over_decimal_commas_in_data(self):
        assert sniff_delimiter("a;b;c\n") == ";"
        assert sniff_delimiter("a\tb\n") == "\t"
        assert sniff_delimiter("single\n") == ","

    def test_forced_delimiter(self, tmp_path):
        path = tmp_path / "forced.csv"
        path.write_text("a,b;c\n1,2;3\n", encoding="utf-8")
        table, rows = read_all(path, delimiter=";")
        assert table.header == ["a,b", "c"]
        assert rows == [(2, ["1,2", "3"])]

    def test_text_table_from_memory(self):
        table = open_text_table("\ufeffregion_code;value\r\n0110;1,5\r\n")
        assert table.header == ["region_code", "value"]
        assert list(table.rows) == [(2, ["0110", "1,5"])]


class TestXlsx:
    def test_workbook_rows_with_line_numbers(self, tmp_path):
        wb = Workbook()
        ws = wb.active
        ws.title = "Daten"
        ws.append(["code", "name", "value", "count"])
        ws.append(["0110", "Zentrum", 2.82, 3503.0])
        ws.append([None, None, None, None])  # blank row: skipped, numbering continues
        ws.append(["0120", "Größe", None, 7])
        other = wb.create_sheet("Zweites")
        other.append(["x"])
        other.append(["y"])
        path = tmp_path / "values.xlsx"
        wb.save(path)

        table, rows = read_all(path)
        assert table.encoding == "xlsx"
        assert table.header == ["code", "name", "value", "count"]
        assert rows == [(2, ["0110", "Zentrum", "2.82", "3503"]), (4, ["0120", "Größe", "", "7"])]

        table, rows = read_all(path, sheet="Zweites")
        assert table.header == ["x"]
        assert rows == [(2, ["y"])]

    def test_xlsx_detected_by_content_not_name(self, tmp_path):
        """Regression: openpyxl refused a workbook whose name did not end in .xlsx."""
        wb = Workbook()
        wb.active.append(["a"])
        wb.active.append([1])
        path = tmp_path / "upload.bin"
        wb.save(path)
        table, rows = read_all(path)
        assert table.delimiter is None
        assert rows == [(2, ["1"])]

    def test_date_cells_read_as_periods(self, tmp_path):
        """Regression: a date cell was read as '2022-06-30 00:00:00' and refused as a period."""
        import datetime

        wb = Workbook()
        wb.active.append(["period"])
        wb.active.append([datetime.datetime(2022, 6, 30)])
        path = tmp_path / "dates.xlsx"
        wb.save(path)
        _, rows = read_all(path)
        assert parse_period(rows[0][1][0]) == "2022-06-30"


class TestParseDecimal:
    @pytest.mark.parametrize(
        "text, expected",
        [
            ("1,5", "1.5"),
            ("0,25", "0.25"),
            ("1.234,56", "1234.56"),
            ("1.234.567", "1234567"),
            ("1.234.567,8", "1234567.8"),
            ("2.82", "2.82"),
            ("-1.31", "-1.31"),
            ("\u22121,5", "-1.5"),  # typographic minus
            ("-0,5", "-0.5"),
            (" 42 ", "42"),
            ("1\u00a0234,5", "1234.5"),  # non-breaking space as thousands separator
            ("1,234.5", "1234.5"),
            ("12,345,678", "12345678"),
            ("0", "0"),
        ],
    )
    def test_numbers(self, text, expected):
        assert parse_decimal(text) == Decimal(expected)

    @pytest.mark.parametrize("dash", ["–", "-", "—"])
    def test_dash_means_exactly_zero(self, dash):
        assert parse_decimal(dash) == Decimal(0)

    @pytest.mark.parametrize("text", ["abc", "1,2,3x", "12a", "1..2", "nan", "inf", "Infinity", "1,5%"])
    def test_invalid_is_cell_error(self, text):
        with pytest.raises(CellError) as exc:
            parse_decimal(text)
        assert "Zahl" in str(exc.value)

    def test_empty_is_cell_error_not_zero(self):
        with pytest.raises(CellError):
            parse_decimal("   ")

    def test_forced_separator(self):
        assert parse_decimal("1.234", decimal=",") == Decimal(1234)
        assert parse_decimal("1,234", decimal=".") == Decimal(1234)
        assert parse_decimal("1.234", decimal=".") == Decimal("1.234")

    @settings(max_examples=300, deadline=None)
    @given(st.integers(min_value=0, max_value=6).flatmap(
        lambda places: st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=places,
                                   allow_nan=False, allow_infinity=False)))
    def test_german_format_round_trip_any_places_with_decimal_comma_forced(self, value):
        # integers like "1.234" are ambiguous on their own (1.234 or 1234): with the
        # separator given (option decimal=","), every value round-trips
        assert parse_decimal(german(value), decimal=",") == value

    @settings(max_examples=300, deadline=None)
    @given(st.integers(min_value=1, max_value=6).flatmap(
        lambda places: st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=places,
                                   allow_nan=False, allow_infinity=False)))
    @example(Decimal("1234.567"))
    @example(Decimal("-0.001"))
    @example(Decimal("1000000.0"))
    @example(Decimal("999.999"))
    def test_german_format_round_trip(self, value):
        """Any decimal written German-style (thousands dots, decimal comma) reads back
        to the same value without being told the separator."""
        assert parse_decimal(german(value)) == value


def german(value: Decimal) -> str:
    """1234567.5 → '1.234.567,5' (as German statistics offices write numbers)."""
    sign = "-" if value < 0 else ""
    text = format(abs(value), "f")
    whole, _, frac = text.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ".".join(groups) + ("," + frac if frac else "")


class TestIsMissing:
    @pytest.mark.parametrize("text", [None, "", "   ", ".", "x", "X", "...", "NA", "n/a", "null", "NULL"])
    def test_missing(self, text):
        assert is_missing(text)

    @pytest.mark.parametrize("text", ["0", "0,0", "–", "-", "1", " 3 "])
    def test_never_zero_or_dash(self, text):
        # zero and the zero dash are values, not gaps
        assert not is_missing(text)


class TestParsePeriod:
    @pytest.mark.parametrize(
        "text, expected",
        [
            ("2022", "2022"),
            (" 2022 ", "2022"),
            ("2022-06", "2022-06"),
            ("2022-6", "2022-06"),
            ("06/2022", "2022-06"),
            ("6/2022", "2022-06"),
            ("2022-06-30", "2022-06-30"),
            ("30.06.2022", "2022-06-30"),
            ("1.2.2022", "2022-02-01"),
            ("29.02.2024", "2024-02-29"),
        ],
    )
    def test_valid(self, text, expected):
        assert parse_period(text) == expected

    @pytest.mark.parametrize("text", ["2022-13", "2022-00", "13/2022", "00/2022"])
    def test_invalid_month(self, text):
        with pytest.raises(CellError, match="kein gültiger Monat"):
            parse_period(text)

    @pytest.mark.parametrize("text", ["31.02.2022", "29.02.2023", "2022-04-31", "00.01.2022", "2022-13-01"])
    def test_invalid_date(self, text):
        with pytest.raises(CellError, match="kein gültiges Datum"):
            parse_period(text)

    @pytest.mark.parametrize("text", ["", None, "Juni 2022", "22", "2022/06", "2022-06-30T00:00"])
    def test_unreadable(self, text):
        with pytest.raises(CellError, match="nicht lesbar"):
            parse_period(text)

    def test_results_sort_chronologically(self):
        periods = [parse_period(t) for t in ("30.06.2022", "2021", "01/2022", "2022-12")]
        assert sorted(periods) == ["2021", "2022-01", "2022-06-30", "2022-12"]
