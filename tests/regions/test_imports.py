"""Imports of regions, boundaries and indicator values: the real Berlin files as
they are, and small synthetic files for each quirk (atomic, every bad line
reported with its number, nothing written on error, dry runs)."""

import csv
import json
from decimal import Decimal
from pathlib import Path

import pghistory.models
import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Max, Sum
from openpyxl import Workbook

from core.imports.base import import_now
from core.models import ImportRun
from regions.models import Indicator, IndicatorValue, Region, RegionLevel
from regions.services import upsert_indicators
from tests.conftest import BERLIN_DIR
from tests.factories import IndicatorFactory, IndicatorValueFactory

pytestmark = pytest.mark.django_db

CATALOGUE = Path(__file__).resolve().parent.parent.parent / "regions" / "catalogues" / "berlin.json"
EW_PERIOD = "2022-06-30"
MSS_PERIOD = "2020-12-31"


# --- helpers ------------------------------------------------------------------------


def event_count() -> int:
    """Rows in every pghistory event table (the audit history)."""
    return sum(m.objects.count() for m in apps.get_models() if issubclass(m, pghistory.models.Event))


def snapshot() -> dict:
    """Enough of the database state to notice any write."""
    return {
        "regions": Region.objects.count(),
        "regions_changed": Region.objects.aggregate(m=Max("updated_at"))["m"],
        "levels": RegionLevel.objects.count(),
        "indicators": Indicator.objects.count(),
        "values": IndicatorValue.objects.count(),
        "values_sum": IndicatorValue.objects.aggregate(s=Sum("value"))["s"],
        "values_changed": IndicatorValue.objects.aggregate(m=Max("updated_at"))["m"],
        "boundaries": Region.objects.exclude(boundary=None).count(),
        "events": event_count(),
    }


def error_lines(run) -> set:
    return {e["line"] for e in run.errors}


def messages(run) -> str:
    return "\n".join(f"{e['line']}: {e['message']}" for e in run.errors)


def value(indicator_key, code, period):
    return IndicatorValue.objects.get(indicator__key=indicator_key, region__code=code, period=period).value


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def load_catalogue():
    return upsert_indicators(json.loads(CATALOGUE.read_text(encoding="utf-8"))["indicators"])


def read_berlin_csv(name):
    with open(BERLIN_DIR / name, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def german_number(text: str) -> Decimal:
    """Independent reading of the Berlin files' cells: '–' is zero."""
    return Decimal(0) if text.strip() == "–" else Decimal(text.strip())


def import_berlin():
    """Catalogue, LOR hierarchy, values and boundaries: the README's Berlin recipe."""
    runs = {"catalogue": load_catalogue()}
    for key, kind, name, profile in [
        ("lor", "regions", "lor_2021.csv", "berlin-lor"),
        ("einwohner", "indicator_values", "einwohner_2022-06_plr.csv", "berlin-einwohner"),
        ("mss", "indicator_values", "mss_2021_kontext_plr.csv", "berlin-mss-2021"),
        ("bezirke", "boundaries", "bezirke.geojson", "berlin-bezirke-grenzen"),
        ("prognoseraeume", "boundaries", "prognoseraeume_2021.geojson", "berlin-prognoseraeume-grenzen"),
    ]:
        runs[key] = import_now(kind, BERLIN_DIR / name, options={"profile": profile}, original_name=name)
        analyze()
    return runs


def analyze():
    """Planner statistics for the uncommitted Berlin rows: after many rolled-back tests,
    autovacuum has analysed these tables as (nearly) empty, and the roll-up joins of the
    next import would be planned as nested loops over thousands of rows (minutes, not
    a second)."""
    with connection.cursor() as cur:
        cur.execute("ANALYZE regions_region, regions_indicatorvalue, regions_indicator")


@pytest.fixture(scope="class")
def berlin(request, django_db_setup, django_db_blocker):
    """The Berlin data imported once per test class, inside a transaction that is
    rolled back after the class (each test runs in a savepoint within it)."""
    if not (BERLIN_DIR / "lor_2021.csv").is_file():
        pytest.skip(f"Berlin open data not found at {BERLIN_DIR}")
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            analyze()
            runs = import_berlin()
            # fire the deferred foreign-key checks of the bulk inserts now, once: otherwise every
            # test's teardown (SET CONSTRAINTS ALL IMMEDIATE in a savepoint) re-checks them all
            with connection.cursor() as cur:
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cur.execute("SET CONSTRAINTS ALL DEFERRED")
            yield runs
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def broken_copy(tmp_path):
    """copy(name, {file line number: (column, new text)}) → path of an edited copy
    of a real Berlin file (same encoding, delimiter and line endings)."""

    def copy(name, edits):
        raw = (BERLIN_DIR / name).read_bytes()
        bom = raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8-sig")
        lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
        sep = "\r\n" if "\r\n" in text else "\n"
        header = lines[0].split(";")
        for number, (column, new) in edits.items():
            cells = lines[number - 1].split(";")
            cells[header.index(column)] = new
            lines[number - 1] = ";".join(cells)
        out = tmp_path / name
        out.write_bytes((b"\xef\xbb\xbf" if bom else b"") + sep.join(lines).encode("utf-8"))
        return out

    return copy


# --- the real Berlin files ------------------------------------------------------------


@pytest.mark.berlin
class TestBerlinRealFiles:
    def test_every_run_succeeded(self, berlin):
        for key, run in berlin.items():
            if key == "catalogue":
                assert run["created"] == 26
                continue
            assert run.status == ImportRun.Status.SUCCEEDED, (key, messages(run))
            assert run.error_count == 0

    def test_hierarchy_counts(self, berlin):
        counts = {lv.key: lv.regions.count() for lv in RegionLevel.objects.all()}
        assert counts == {"land": 1, "bezirk": 12, "prognoseraum": 58, "bezirksregion": 143, "planungsraum": 542}
        assert berlin["lor"].summary["created"] == 1 + 12 + 58 + 143 + 542 - 1  # the root "BE" comes from the profile
        assert Region.objects.get(code="BE").depth == 0

    def test_codes_keep_leading_zeros(self, berlin):
        plr = Region.objects.select_related("parent__parent__parent__parent").get(code="01100101")
        assert plr.name == "Stülerstraße"
        assert plr.official_area_m2 == Decimal("366933.12")
        chain = [plr.parent.code, plr.parent.parent.code, plr.parent.parent.parent.code,
                 plr.parent.parent.parent.parent.code]
        assert chain == ["011001", "0110", "01", "BE"]
        assert not Region.objects.filter(code="1100101").exists()
        assert Region.objects.get(code="01").name == "Mitte"

    def test_tree_consistent(self, berlin):
        assert Region.objects.filter(level__key="planungsraum", depth=4).count() == 542
        berlin_path = Region.objects.get(code="BE").path
        assert not Region.objects.exclude(path__startswith=berlin_path).exists()
        assert Region.objects.get(code="BE").descendants().count() == 12 + 58 + 143 + 542

    def test_einwohner_values(self, berlin):
        rows = read_berlin_csv("einwohner_2022-06_plr.csv")
        run = berlin["einwohner"]
        assert run.summary["created"] == 542 * 11
        assert run.summary["missing"] == 0
        first = rows[0]
        assert value("ew_gesamt", first["PLR-ID"], EW_PERIOD) == Decimal(first["Gesamt"])
        assert value("ew_auslaender", first["PLR-ID"], EW_PERIOD) == Decimal(first["ausländer"])

    def test_dash_cells_mean_zero(self, berlin):
        # PLR 03400831 "Pankower Tor" has no residents: every cell is "–"
        assert value("ew_gesamt", "03400831", EW_PERIOD) == 0
        assert IndicatorValue.objects.filter(region__code="03400831", period=EW_PERIOD).count() == 11

    def test_mss_empty_cells_stay_missing(self, berlin):
        rows = read_berlin_csv("mss_2021_kontext_plr.csv")
        empty = sum(1 for r in rows for k, v in r.items() if k.startswith("K") and not v.strip())
        run = berlin["mss"]
        assert run.summary["missing"] == empty > 0
        assert run.summary["created"] == 542 * 15 - empty
        assert value("mss_ew", "03400831", MSS_PERIOD) == 0
        assert not IndicatorValue.objects.filter(indicator__key="k01", region__code="03400831").exists()
        assert not IndicatorValue.objects.filter(indicator__key="k01", region__code="03300515").exists()
        assert value("k01", "01100101", MSS_PERIOD) == Decimal("2.82")
        assert value("k06", "01100101", MSS_PERIOD) == Decimal("-1.31")  # columns K05;K16;K06: not sorted
        assert value("k16", "01100101", MSS_PERIOD) == Decimal("40.57")

    def test_bezirke_boundaries_matched_by_name(self, berlin):
        run = berlin["bezirke"]
        assert run.summary["total"] == 12 and run.summary["updated"] == 12
        assert Region.objects.filter(level__key="bezirk").exclude(boundary=None).count() == 12
        mitte = Region.objects.get(code="01")
        assert mitte.boundary["type"] in ("Polygon", "MultiPolygon")
        assert 38e6 < mitte.area_m2 < 41e6  # Mitte: 39.5 km²

    def test_prognoseraeume_boundaries_matched_by_code(self, berlin):
        run = berlin["prognoseraeume"]  # the file's legacy "crs" member names EPSG:4326: accepted
        assert run.summary["total"] == 58 and run.summary["updated"] == 58
        assert Region.objects.filter(level__key="prognoseraum").exclude(boundary=None).count() == 58
        official = {f["properties"]["PGR_ID"]: f["properties"]["GROESSE_M2"] for f in
                    json.loads((BERLIN_DIR / "prognoseraeume_2021.geojson").read_text(encoding="utf-8"))["features"]}
        for code, area in Region.objects.filter(level__key="prognoseraum").values_list("code", "area_m2"):
            assert float(area) == pytest.approx(official[code], rel=0.01)

    def test_locate_a_point(self, berlin):
        # Alexanderplatz lies in Bezirk Mitte, Prognoseraum 0110 "Zentrum"
        codes = [r.code for r in Region.objects.containing_point(13.4132, 52.5219)]
        assert codes == ["0110", "01"]

    def test_berlin_total_is_sum_of_planning_areas(self, berlin):
        expected = sum(german_number(r["Gesamt"]) for r in read_berlin_csv("einwohner_2022-06_plr.csv"))
        assert 3_600_000 < expected < 3_900_000
        iv = IndicatorValue.objects.get(indicator__key="ew_gesamt", region__code="BE", period=EW_PERIOD)
        assert iv.is_rollup
        assert iv.value == expected

    def test_district_sums(self, berlin):
        rows = read_berlin_csv("einwohner_2022-06_plr.csv")
        for district in ("01", "03", "12"):
            expected = sum(german_number(r["65undmehr"]) for r in rows if r["PLR-ID"].startswith(district))
            assert value("ew_65_plus", district, EW_PERIOD) == expected

    # districts where every PLR with residents has MSS values (06 has one empty PLR without residents)
    @pytest.mark.parametrize("district", ["01", "02", "06", "07", "08", "09", "11", "12"])
    def test_district_weighted_mean(self, berlin, district):
        """A Bezirk's K01 is the mss_ew-weighted mean over its PLR with a K01 value."""
        assert_weighted_mean(district, "K01", "k01")
        assert_weighted_mean(district, "K13", "k13")

    @pytest.mark.parametrize("code", ["03", "04", "05", "10", "BE"])
    def test_district_weighted_mean_with_empty_planning_area(self, berlin, code):
        """Regression: a mean two levels up was weighted by ALL residents below, including those of
        PLR without a value (03300515: 38, 04400725: 110, 05300838: 21, 10100205: 1262 residents)."""
        # 03300515 (38 residents), 04400725 (110), 05300838 (21), 10100205 (1262) have residents but no K01
        assert_weighted_mean(code, "K01", "k01")

    def test_weighted_mean_at_bezirksregion_level(self, berlin):
        # one level up from the values the mean is exact, empty cells left out
        assert_weighted_mean("033005", "K01", "k01")

    def test_reimport_changes_nothing(self, berlin):
        before = snapshot()
        for kind, name, profile in [
            ("regions", "lor_2021.csv", "berlin-lor"),
            ("indicator_values", "einwohner_2022-06_plr.csv", "berlin-einwohner"),
            ("indicator_values", "mss_2021_kontext_plr.csv", "berlin-mss-2021"),
            ("boundaries", "bezirke.geojson", "berlin-bezirke-grenzen"),
            ("boundaries", "prognoseraeume_2021.geojson", "berlin-prognoseraeume-grenzen"),
        ]:
            run = import_now(kind, BERLIN_DIR / name, options={"profile": profile})
            assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
            assert run.summary.get("created", 0) == 0, name
            assert run.summary["updated"] == 0, name
            assert run.summary.get("rollups_written", 0) == 0, name
            assert run.summary.get("rollups_removed", 0) == 0, name
        assert snapshot() == before  # no new rows, no new history events

    def test_broken_copy_rejected_as_a_whole(self, berlin, broken_copy):
        # file line 102 = data line 101: a non-numeric K01; line 300: an unknown PLR code;
        # line 50: a valid change that must not be written either
        path = broken_copy("mss_2021_kontext_plr.csv", {
            102: ("K01", "zwölf"), 300: ("PLR-ID", "99999999"), 50: ("K02", "99.99"),
        })
        before = snapshot()
        run = import_now("indicator_values", path, options={"profile": "berlin-mss-2021"})
        assert run.status == ImportRun.Status.FAILED
        assert error_lines(run) == {102, 300}
        text = messages(run)
        assert "keine Zahl: 'zwölf'" in text
        assert "unbekannter Raumschlüssel '99999999'" in text
        assert snapshot() == before

    def test_broken_lor_copy_rejected(self, berlin, tmp_path):
        lines = (BERLIN_DIR / "lor_2021.csv").read_text(encoding="utf-8-sig").splitlines()
        cells = lines[9].split(",")
        cells[7] = "Nirgendwo"  # line 10: Bezirk name contradicts the other rows of district 01
        lines[9] = ",".join(cells)
        path = write(tmp_path / "lor.csv", "\n".join(lines) + "\n")
        before = snapshot()
        run = import_now("regions", path, options={"profile": "berlin-lor"})
        assert run.status == ImportRun.Status.FAILED
        assert 10 in error_lines(run)
        assert "Nirgendwo" in messages(run)
        assert snapshot() == before

    def test_dry_run_reports_but_writes_nothing(self, berlin, broken_copy):
        path = broken_copy("einwohner_2022-06_plr.csv", {2: ("Gesamt", "3600"), 3: ("unter6", "1")})
        before = snapshot()
        run = import_now("indicator_values", path, options={"profile": "berlin-einwohner"}, dry_run=True)
        assert run.status == ImportRun.Status.SUCCEEDED and run.dry_run
        assert run.summary["updated"] == 2
        assert run.summary["created"] == 0
        assert run.summary["rollups_written"] > 0  # the sums above both PLR would change
        after = snapshot()
        assert {k: v for k, v in after.items()} == before
        assert value("ew_gesamt", "01100101", EW_PERIOD) == Decimal(3503)

    def test_change_one_value_updates_rollups_and_history(self, berlin, broken_copy):
        path = broken_copy("einwohner_2022-06_plr.csv", {2: ("Gesamt", "3600")})
        events = event_count()
        total = value("ew_gesamt", "BE", EW_PERIOD)
        run = import_now("indicator_values", path, options={"profile": "berlin-einwohner"})
        assert run.status == ImportRun.Status.SUCCEEDED
        assert run.summary["updated"] == 1
        assert run.summary["rollups_written"] == 4  # Bezirksregion, Prognoseraum, Bezirk, Berlin
        assert value("ew_gesamt", "BE", EW_PERIOD) == total + 97
        assert value("ew_gesamt", "01", EW_PERIOD) == sum(
            IndicatorValue.objects.filter(indicator__key="ew_gesamt", period=EW_PERIOD, region__parent__code="01")
            .values_list("value", flat=True))
        assert event_count() == events + 5  # the value and its four roll-ups, old and new kept


def assert_weighted_mean(ancestor_code: str, column: str, key: str):
    rows = read_berlin_csv("mss_2021_kontext_plr.csv")
    ancestor = Region.objects.get(code=ancestor_code)
    plr_codes = set(
        Region.objects.subtree(ancestor).filter(level__key="planungsraum").values_list("code", flat=True)
    )
    num = den = Decimal(0)
    for r in rows:
        if r["PLR-ID"] in plr_codes and r[column].strip():
            weight = Decimal(r["EW 31.12.2020"])
            num += Decimal(r[column]) * weight
            den += weight
    expected = num / den
    iv = IndicatorValue.objects.get(indicator__key=key, region=ancestor, period=MSS_PERIOD)
    assert iv.is_rollup
    # to 6 decimals: each level stores its mean rounded to 6 places, so the mean of rounded means
    # may differ by one unit in the last place
    assert abs(iv.value - expected) <= Decimal("0.0000015"), (ancestor_code, key, iv.value, expected)


@pytest.mark.berlin
class TestBerlinCommands:
    def test_import_regions_command(self, berlin_dir, capsys):
        call_command("import_regions", str(berlin_dir / "lor_2021.csv"), "--profile", "berlin-lor")
        assert "created=755" in capsys.readouterr().out  # + the root "BE" from the profile
        assert Region.objects.count() == 1 + 12 + 58 + 143 + 542
        # again: nothing to do
        call_command("import_regions", str(berlin_dir / "lor_2021.csv"), "--profile", "berlin-lor")
        assert "created=0, updated=0, unchanged=755" in capsys.readouterr().out

    def test_import_regions_command_bad_file(self, berlin_dir, tmp_path, capsys):
        bad = write(tmp_path / "bad.csv", "Planungsraum (Nummer),Bezirk\n01100101,Mitte\n")
        with pytest.raises(CommandError, match="nichts geschrieben"):
            call_command("import_regions", str(bad), "--profile", "berlin-lor")
        assert "Prognoseraum (Nummer)" in capsys.readouterr().err
        assert Region.objects.count() == 0  # not even the profile's root or levels
        assert RegionLevel.objects.count() == 0

    def test_import_data_dry_run(self, berlin_dir, capsys):
        load_catalogue()
        call_command("import_regions", str(berlin_dir / "lor_2021.csv"), "--profile", "berlin-lor")
        capsys.readouterr()
        call_command("import_data", "indicator_values", str(berlin_dir / "einwohner_2022-06_plr.csv"),
                     "--profile", "berlin-einwohner", "--dry-run")
        out = capsys.readouterr().out
        assert out.startswith("Probelauf (nichts geschrieben)")
        assert f"created={542 * 11}" in out
        assert IndicatorValue.objects.count() == 0
        run = ImportRun.objects.latest("created_at")
        assert run.dry_run and run.status == ImportRun.Status.SUCCEEDED


# --- synthetic files: each quirk on its own ----------------------------------------------


@pytest.fixture
def indicators(db):
    ew = IndicatorFactory(key="ew", name="Einwohner", rollup="sum")
    share = IndicatorFactory(key="share", name="Anteil", unit="%", rollup="weighted_mean", weight_indicator=ew)
    return {"ew": ew, "share": share}


class TestIndicatorValueFiles:
    def test_long_form_with_decimal_comma_and_dates(self, tree, indicators, tmp_path):
        path = write(tmp_path / "long.csv", (
            "region_code;indicator;period;value\n"
            "P11;ew;30.06.2022;1200\n"
            "P12;ew;2022-06-30;800\n"
            "P21;ew;2022-06-30;1.000\n"  # read as 1.000 = 1 (a single dot is a decimal point)
            "P11;share;30.06.2022;12,5\n"
            "P12;share;30.06.2022;1.234,5\n"
        ))
        run = import_now("indicator_values", path)
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert run.summary["created"] == 5
        assert value("share", "P11", "2022-06-30") == Decimal("12.5")
        assert value("share", "P12", "2022-06-30") == Decimal("1234.5")
        assert value("ew", "D1", "2022-06-30") == 2000  # roll-up
        assert value("ew", "CITY", "2022-06-30") == 2001
        expected = (Decimal("12.5") * 1200 + Decimal("1234.5") * 800) / 2000
        assert value("share", "D1", "2022-06-30") == expected.quantize(Decimal("0.000001"))

    def test_wide_form(self, tree, indicators, tmp_path):
        path = write(tmp_path / "wide.csv", "code,Name,ew,Anteil\nP11,Nord-West,100,\"10,0\"\nP12,Nord-Ost,300,20\n")
        run = import_now("indicator_values", path, options={"period": "2021", "ignore_columns": ["Name"]})
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert run.summary["created"] == 4  # "Anteil" is the indicator's name
        assert value("share", "D1", "2021") == Decimal("17.5")
        # D2 has no value: no sum for the city, but a mean over the districts that have one
        assert not IndicatorValue.objects.filter(region__code="CITY", indicator__key="ew").exists()
        assert value("share", "CITY", "2021") == Decimal("17.5")

    def test_wide_form_period_column(self, tree, indicators, tmp_path):
        path = write(tmp_path / "wide.csv", "code;Jahr;ew\nP11;2020;1\nP11;2021;2\n")
        run = import_now("indicator_values", path, options={"period_column": "Jahr"})
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert value("ew", "P11", "2021") == 2

    def test_windows_1252_file(self, tree, indicators, tmp_path):
        path = write(tmp_path / "ansi.csv", "Schlüssel;Bezeichnung;ew;share\r\nP11;Größe Straße;1.200;7,5\r\n",
                     encoding="cp1252")
        run = import_now("indicator_values", path,
                         options={"period": "2022", "ignore_columns": ["Bezeichnung"], "decimal": ","})
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert value("ew", "P11", "2022") == 1200  # decimal="," makes the dot a thousands separator
        assert value("share", "P11", "2022") == Decimal("7.5")

    def test_xlsx_file(self, tree, indicators, tmp_path):
        wb = Workbook()
        ws = wb.active
        ws.append(["region_code", "indicator", "period", "value"])
        ws.append(["P11", "ew", "2022", 1500])
        ws.append(["P12", "ew", 2022, 2.5])
        ws.append(["P21", "share", "06/2022", "3,25"])
        path = tmp_path / "werte.xlsx"
        wb.save(path)
        run = import_now("indicator_values", path)
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert value("ew", "P11", "2022") == 1500
        assert value("ew", "P12", "2022") == Decimal("2.5")
        assert value("share", "P21", "2022-06") == Decimal("3.25")

    def test_xlsx_numbers_ignore_decimal_option(self, tree, indicators, tmp_path):
        """Regression: with decimal="," an XLSX number 2.5 (read as '2.5') was stored as 25."""
        wb = Workbook()
        ws = wb.active
        ws.append(["region_code", "indicator", "period", "value"])
        ws.append(["P11", "share", "2022", 2.5])
        path = tmp_path / "werte.xlsx"
        wb.save(path)
        run = import_now("indicator_values", path, options={"decimal": ","})
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert value("share", "P11", "2022") == Decimal("2.5")

    def test_xlsx_line_numbers_in_errors(self, tree, indicators, tmp_path):
        wb = Workbook()
        ws = wb.active
        ws.append(["region_code", "indicator", "period", "value"])
        ws.append(["P11", "ew", "2022", 1])
        ws.append(["P99", "ew", "2022", 1])
        path = tmp_path / "werte.xlsx"
        wb.save(path)
        run = import_now("indicator_values", path)
        assert run.status == ImportRun.Status.FAILED
        assert error_lines(run) == {3}

    def test_duplicate_rows_report_both_lines(self, tree, indicators, tmp_path):
        path = write(tmp_path / "dup.csv", (
            "region_code;indicator;period;value\n"
            "P11;ew;2022;1\n"
            "P12;ew;2022;2\n"
            "P11;ew;2022;3\n"
        ))
        run = import_now("indicator_values", path)
        assert run.status == ImportRun.Status.FAILED
        (error,) = run.errors
        assert error["line"] == 4
        assert "doppelter Wert" in error["message"] and "Zeile 2" in error["message"]
        assert IndicatorValue.objects.count() == 0

    def test_duplicate_across_period_spellings(self, tree, indicators, tmp_path):
        path = write(tmp_path / "dup.csv", "region_code;indicator;period;value\nP11;ew;06/2022;1\nP11;ew;2022-06;1\n")
        run = import_now("indicator_values", path)
        assert run.status == ImportRun.Status.FAILED
        assert "Zeile 2" in run.errors[0]["message"] and run.errors[0]["line"] == 3

    def test_unknown_indicator_column_is_a_file_error(self, tree, indicators, tmp_path):
        path = write(tmp_path / "wide.csv", "code;ew;Arbeitslose;share\nP11;1;2;3\n")
        run = import_now("indicator_values", path, options={"period": "2022"})
        assert run.status == ImportRun.Status.FAILED
        (error,) = run.errors
        assert error["line"] == 1
        assert error["message"].startswith("Spalten ohne passenden Indikator: Arbeitslose (")
        assert IndicatorValue.objects.count() == 0

    def test_missing_long_column_named(self, tree, indicators, tmp_path):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;wert\nP11;ew;2022;1\n")
        run = import_now("indicator_values", path, options={"layout": "long"})
        assert run.status == ImportRun.Status.FAILED
        assert "„value“" in messages(run)

    def test_every_bad_line_reported(self, tree, indicators, tmp_path):
        path = write(tmp_path / "bad.csv", (
            "region_code;indicator;period;value\n"
            "P11;ew;2022;1\n"
            "P11;nix;2022;1\n"  # unknown indicator
            "P12;ew;2022-13;1\n"  # invalid month
            "P21;ew;2022;1e999\n"  # not finite / too large
            "P21;share;2022;12a\n"  # not a number
            "P12;share;2022;1\n"
        ))
        run = import_now("indicator_values", path)
        assert run.status == ImportRun.Status.FAILED
        assert error_lines(run) == {3, 4, 5, 6}
        assert run.error_count == 4
        text = messages(run)
        assert "unbekannter Indikator 'nix'" in text
        assert "kein gültiger Monat" in text
        assert IndicatorValue.objects.count() == 0

    def test_missing_cells_are_not_zero(self, tree, indicators, tmp_path):
        path = write(tmp_path / "wide.csv", "code;ew;share\nP11;;.\nP12;–;x\nP21;0;\n")
        run = import_now("indicator_values", path, options={"period": "2022"})
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert run.summary["missing"] == 4
        assert not IndicatorValue.objects.filter(region__code="P11").exists()
        assert value("ew", "P12", "2022") == 0
        assert value("ew", "P21", "2022") == 0
        assert not IndicatorValue.objects.filter(region__code="D1", indicator__key="ew").exists()  # P11 missing

    def test_scoped_planner_cannot_import_outside_scope(self, tree, indicators, scoped_planner, tmp_path):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\nP21;ew;2022;5\nP11;ew;2022;7\n")
        run = import_now("indicator_values", path, user=scoped_planner)
        assert run.status == ImportRun.Status.FAILED
        assert run.errors == [{"line": 3, "column": "region_code", "message": "Raum 'P11': keine Berechtigung"}]
        assert IndicatorValue.objects.count() == 0

    def test_scoped_planner_imports_inside_scope(self, tree, indicators, scoped_planner, tmp_path):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\nP21;ew;2022;5\n")
        run = import_now("indicator_values", path, user=scoped_planner)
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        iv = IndicatorValue.objects.get(region__code="P21")
        assert iv.created_by == scoped_planner and iv.import_run == run
        assert value("ew", "D2", "2022") == 5

    def test_reimport_and_update(self, tree, indicators, tmp_path):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\nP11;ew;2022;5\nP12;ew;2022;6\n")
        first = import_now("indicator_values", path)
        assert (first.summary["created"], first.summary["updated"]) == (2, 0)
        again = import_now("indicator_values", path)
        assert (again.summary["created"], again.summary["updated"], again.summary["unchanged"]) == (0, 0, 2)
        write(path, "region_code;indicator;period;value\nP11;ew;2022;5\nP12;ew;2022;9\n")
        changed = import_now("indicator_values", path)
        assert (changed.summary["created"], changed.summary["updated"]) == (0, 1)
        assert value("ew", "D1", "2022") == 14

    def test_measured_parent_value_kept(self, tree, indicators, tmp_path):
        IndicatorValueFactory(indicator=indicators["ew"], region=tree["D1"], period="2022", value=999)
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\nP11;ew;2022;5\nP12;ew;2022;6\n")
        run = import_now("indicator_values", path)
        assert run.status == ImportRun.Status.SUCCEEDED
        assert value("ew", "D1", "2022") == 999

    def test_dry_run_writes_nothing(self, tree, indicators, tmp_path):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\nP11;ew;2022;5\nP12;ew;2022;6\n")
        run = import_now("indicator_values", path, dry_run=True)
        assert run.status == ImportRun.Status.SUCCEEDED
        assert run.summary["created"] == 2 and run.summary["rollups_written"] == 1
        assert IndicatorValue.objects.count() == 0

    def test_records_from_the_api(self, tree, indicators):
        run = import_now("indicator_values", [
            {"region_code": "P11", "indicator": "ew", "period": "2022", "value": 3},
            {"region_code": "P12", "indicator": "ew", "period": "2022", "value": "4,5"},
            "kein Objekt",
            {"region_code": "P12", "indicator": "ew", "period": "2022", "value": None},
        ])
        assert run.status == ImportRun.Status.FAILED
        assert error_lines(run) == {3}


class TestRegionFiles:
    def test_canonical_columns(self, levels, tmp_path):
        path = write(tmp_path / "regions.csv", (
            "code;name;parent_code;level\n"
            "S;Stadt;;land\n"
            "S01;Nord;S;bezirk\n"
            "S0101;Am Park;S01;Planungsraum\n"
        ))
        run = import_now("regions", path)
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert {k: run.summary[k] for k in ("created", "updated", "unchanged", "total")} == {
            "created": 3, "updated": 0, "unchanged": 0, "total": 3}
        leaf = Region.objects.get(code="S0101")
        assert leaf.parent.code == "S01" and leaf.depth == 2
        assert leaf.path == f"{Region.objects.get(code='S').pk}/{leaf.parent_id}/{leaf.pk}/"

    def test_mapped_columns_and_update(self, tree, tmp_path):
        path = write(tmp_path / "regions.csv", "Schlüssel,Bezeichnung,Oberbezirk,Ebene\nP11,Neuer Name,D1,planungsraum\n")
        options = {"columns": {"code": "Schlüssel", "name": "Bezeichnung", "parent_code": "Oberbezirk",
                               "level": "Ebene"}}
        run = import_now("regions", path, options=options)
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert run.summary["updated"] == 1
        assert Region.objects.get(code="P11").name == "Neuer Name"

    def test_move_by_import_rewrites_paths(self, tree, tmp_path):
        path = write(tmp_path / "regions.csv", "code;name;parent_code;level\nP11;Nord-West;D2;planungsraum\n")
        run = import_now("regions", path)
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        p11 = Region.objects.get(code="P11")
        assert p11.path == f"{tree['D2'].path}{p11.pk}/"

    def test_bad_rows(self, tree, tmp_path):
        path = write(tmp_path / "regions.csv", (
            "code;name;parent_code;level\n"
            "D3;Ost;CITY;bezirk\n"
            "P33;;D3;planungsraum\n"  # no name
            "P34;Ost-4;D3;Quartier\n"  # unknown level
            "P35;Ost-5;D3;planungsraum\n"
            "P35;Ost-fünf;D3;planungsraum\n"  # contradicts line 5
        ))
        before = Region.objects.count()
        run = import_now("regions", path)
        assert run.status == ImportRun.Status.FAILED
        assert error_lines(run) == {3, 4, 6}
        assert "widerspricht Zeile 5" in messages(run)
        assert Region.objects.count() == before

    def test_bad_parents_and_levels(self, tree, tmp_path):
        path = write(tmp_path / "regions.csv", (
            "code;name;parent_code;level\n"
            "D3;Ost;CITY;bezirk\n"
            "P31;Ost-1;XX;planungsraum\n"  # unknown parent
            "P32;Ost-2;P11;bezirk\n"  # level not below its parent
        ))
        before = Region.objects.count()
        run = import_now("regions", path)
        assert run.status == ImportRun.Status.FAILED
        assert error_lines(run) == {3, 4}
        assert "'XX'" in messages(run) and "Ebene passt nicht" in messages(run)
        assert Region.objects.count() == before

    def test_all_bad_lines_at_once(self, tree, tmp_path):
        """Regression: row errors used to hide the parent/level errors found later."""
        path = write(tmp_path / "regions.csv", (
            "code;name;parent_code;level\n"
            "P31;Ost-1;XX;planungsraum\n"  # unknown parent
            "P33;;D2;planungsraum\n"  # no name
        ))
        run = import_now("regions", path)
        assert error_lines(run) == {2, 3}

    def test_cycle_rejected(self, tree, tmp_path):
        path = write(tmp_path / "regions.csv", "code;name;parent_code;level\nD1;Nord;P11;bezirk\n")
        run = import_now("regions", path)
        assert run.status == ImportRun.Status.FAILED
        assert any("Zyklus" in e["message"] or "Ebene passt nicht" in e["message"] for e in run.errors)

    def test_scoped_planner_only_in_scope(self, tree, scoped_planner, levels, tmp_path):
        path = write(tmp_path / "regions.csv", "code;name;parent_code;level\nP22;Süd-2;D2;planungsraum\n"
                                               "P13;Nord-3;D1;planungsraum\n")
        run = import_now("regions", path, user=scoped_planner)
        assert run.status == ImportRun.Status.FAILED
        assert error_lines(run) == {3}
        assert "keine Berechtigung" in messages(run)
        assert not Region.objects.filter(code__in=["P22", "P13"]).exists()

    # regression: the unknown profile used to raise from execute() and leave the run 'running'
    def test_unknown_profile(self, tree, tmp_path):
        path = write(tmp_path / "regions.csv", "code;name;parent_code;level\n")
        run = import_now("regions", path, options={"profile": "gibt-es-nicht"})
        assert run.status == ImportRun.Status.FAILED
        assert "Unbekanntes Profil" in messages(run)

    def test_profile_name_cannot_leave_the_profiles_folder(self, tree, tmp_path):
        from regions.importers import load_profile

        with pytest.raises(ValueError, match="Unbekanntes Profil"):
            load_profile("../catalogues/berlin")


class TestBoundaryFiles:
    def feature(self, code, geometry):
        return {"type": "Feature", "properties": {"code": code}, "geometry": geometry}

    def square(self, x, y, d=0.01):
        return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}

    def test_match_by_code(self, tree, tmp_path):
        data = {"type": "FeatureCollection", "features": [self.feature("P11", self.square(13.0, 52.0)),
                                                           self.feature("P12", self.square(13.1, 52.0))]}
        path = write(tmp_path / "b.geojson", json.dumps(data))
        run = import_now("boundaries", path)
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert run.summary["updated"] == 2
        assert Region.objects.get(code="P11").area_m2 > 0

    def test_foreign_crs_refused(self, tree, tmp_path):
        data = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:25833"}},
                "features": [self.feature("P11", self.square(13.0, 52.0))]}
        path = write(tmp_path / "b.geojson", json.dumps(data))
        run = import_now("boundaries", path)
        assert run.status == ImportRun.Status.FAILED
        assert "EPSG:25833" in messages(run)

    def test_bad_features_all_reported_nothing_written(self, tree, tmp_path):
        data = {"type": "FeatureCollection", "features": [
            self.feature("P11", self.square(13.0, 52.0)),
            self.feature("XX", self.square(13.0, 52.0)),
            self.feature("P12", {"type": "Point", "coordinates": [13, 52]}),
            self.feature("P21", self.square(390000, 5820000, 1000)),
        ]}
        path = write(tmp_path / "b.geojson", json.dumps(data))
        run = import_now("boundaries", path)
        assert run.status == ImportRun.Status.FAILED
        assert error_lines(run) == {2, 3, 4}
        assert not Region.objects.exclude(boundary=None).exists()

    def test_not_json(self, tree, tmp_path):
        path = write(tmp_path / "b.geojson", "{kaputt")
        run = import_now("boundaries", path)
        assert run.status == ImportRun.Status.FAILED
        assert "keine gültige GeoJSON-Datei" in messages(run)


class TestCommands:
    def test_import_data_dry_run(self, tree, indicators, tmp_path, capsys):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\nP11;ew;2022;5\n")
        call_command("import_data", "indicator_values", str(path), "--dry-run")
        assert "Probelauf (nichts geschrieben): created=1" in capsys.readouterr().out
        assert IndicatorValue.objects.count() == 0

    def test_import_data_with_options(self, tree, indicators, tmp_path, capsys, planner):
        path = write(tmp_path / "wide.csv", "PLR;ew\nP11;5\n")
        call_command("import_data", "indicator_values", str(path), "-o", "period=2022-06", "-o", "region_column=PLR",
                     "--user", "planner")
        assert value("ew", "P11", "2022-06") == 5
        assert IndicatorValue.objects.get(region__code="P11").created_by == planner

    def test_import_data_year_option(self, tree, indicators, tmp_path, capsys, planner):
        """Regression: -o period=2022 became the int 2022 (JSON) and crashed parse_period."""
        path = write(tmp_path / "wide.csv", "PLR;ew\nP11;5\n")
        call_command("import_data", "indicator_values", str(path), "-o", "period=2022", "-o", "region_column=PLR",
                     "--user", "planner")
        assert value("ew", "P11", "2022") == 5
        assert IndicatorValue.objects.get(region__code="P11").created_by == planner

    def test_bad_file_raises_command_error(self, tree, indicators, tmp_path, capsys):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\nP11;ew;2022;x1\n")
        with pytest.raises(CommandError):
            call_command("import_indicator_values", str(path))
        assert "Zeile 2" in capsys.readouterr().err
        assert IndicatorValue.objects.count() == 0

    def test_unknown_profile_is_a_command_error(self, tree, tmp_path, capsys):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\n")
        with pytest.raises(CommandError):
            call_command("import_data", "indicator_values", str(path), "--profile", "gibt-es-nicht")
        assert "Unbekanntes Profil" in capsys.readouterr().err

    def test_bad_option_syntax(self, tree, tmp_path):
        path = write(tmp_path / "long.csv", "region_code;indicator;period;value\n")
        with pytest.raises(CommandError, match="KEY=VALUE"):
            call_command("import_data", "indicator_values", str(path), "-o", "period")

    def test_load_indicators_command(self, db, capsys):
        call_command("load_indicators", str(CATALOGUE))
        assert "created=26" in capsys.readouterr().out
        k01 = Indicator.objects.get(key="k01")
        assert k01.rollup == "weighted_mean" and k01.weight_indicator.key == "mss_ew"
        call_command("load_indicators", str(CATALOGUE))
        assert "created=0, updated=0, unchanged=26" in capsys.readouterr().out
