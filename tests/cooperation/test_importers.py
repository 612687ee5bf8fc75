"""Bulk imports of organisations and service offerings: good files (CSV and
XLSX, German labels, decimal commas), matching and updating, idempotence,
every bad line reported with its line and column and nothing written, the
location's region from its point, and who may import."""

import csv
import datetime
import io
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from openpyxl import Workbook
from shapely.geometry import box

from cooperation.models import Location, Organization, Service
from core.imports.base import import_now
from core.models import FieldOfAction, ImportRun
from tests.factories import FieldOfActionFactory, LocationFactory, OrganizationFactory, ServiceFactory

pytestmark = pytest.mark.django_db

ORG_COLUMNS = ["name", "kind", "umbrella", "legal_form", "register_number", "parent", "description", "email", "phone",
               "website", "street", "postal_code", "city", "regions"]
SERVICE_COLUMNS = [
    "organization", "name", "description", "keywords", "fields", "setting", "work_mode", "target_groups", "age_min",
    "age_max", "legal_bases", "languages", "accessibility", "cost", "cost_note", "access_modes", "city_wide",
    "regions", "location_name", "street", "postal_code", "city", "latitude", "longitude", "opening_hours", "email",
    "phone", "url", "capacity", "free_places", "free_places_reported_at", "status",
]

ORGANIZATIONS = [
    {"name": "Kinder- und Jugendhilfe Spreebogen e. V.", "kind": "freier Träger", "umbrella": "Der Paritätische",
     "legal_form": "e. V.", "register_number": "VR 900001 B", "parent": "", "description": "Fiktiver Träger.",
     "email": "info@spreebogen.example", "phone": "030 23125 001", "website": "www.spreebogen.example",
     "street": "Am Fiktivufer 1", "postal_code": "10115", "city": "Berlin", "regions": "D1|P11"},
    {"name": "Familienzentrum Ottergrund", "kind": "provider", "umbrella": "paritaetischer",
     "legal_form": "eingetragener Verein (e. V.)", "register_number": "", "parent": "Kinder- und Jugendhilfe "
     "Spreebogen e. V.", "description": "", "email": "", "phone": "", "website": "", "street": "", "postal_code": "",
     "city": "", "regions": "P11, P12"},
    {"name": "Grundschule am Kranichteich", "kind": "Schule", "umbrella": "keiner",
     "legal_form": "Behörde / kommunale Einrichtung", "register_number": "–", "parent": "–", "description": "",
     "email": "", "phone": "", "website": "", "street": "Kranichweg 3", "postal_code": "10117", "city": "Berlin",
     "regions": "D2"},
]


def service(**kw):
    row = {
        "organization": "VR 900001 B", "name": "Erziehungsberatung Spreebogen",
        "description": "Beratung für Eltern, Kinder und Jugendliche.", "keywords": "Erziehung, Beratung, Familie",
        "fields": "kjh-hze-erziehungsberatung|Familienbildung", "setting": "ambulant", "work_mode": "fallspezifisch",
        "target_groups": "Eltern|kinder", "age_min": "0", "age_max": "27",
        "legal_bases": "sgb8_27|SGB VIII § 16 (Förderung der Erziehung in der Familie)",
        "languages": "Deutsch|tr|Englisch", "accessibility": "stufenloser Zugang|lift", "cost": "kostenfrei",
        "cost_note": "", "access_modes": "nach Terminvereinbarung|walk_in", "city_wide": "nein",
        "regions": "P11|P12", "location_name": "Beratungsstelle", "street": "Am Fiktivufer 1", "postal_code": "10115",
        "city": "Berlin", "latitude": "52,25", "longitude": "13,25", "opening_hours": "Mo–Fr 9–17 Uhr",
        "email": "beratung@spreebogen.example", "phone": "030 23125 002", "url": "https://spreebogen.example/beratung",
        "capacity": "12", "free_places": "3", "free_places_reported_at": "01.02.2025", "status": "aktiv",
    }
    row.update(kw)
    return row


def csv_text(rows, columns, delimiter=";"):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_csv(path, rows, columns, delimiter=";", bom=True):
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + csv_text(rows, columns, delimiter).encode("utf-8"))
    return path


def write_xlsx(path, rows, columns):
    wb = Workbook()
    ws = wb.active
    ws.append(columns)
    for row in rows:
        ws.append([row.get(c, "") for c in columns])
    wb.save(path)
    return path


def errors(run) -> set:
    return {(e["line"], e["column"]) for e in run.errors}


def messages(run) -> str:
    return "\n".join(f"{e['line']} {e['column']}: {e['message']}" for e in run.errors)


@pytest.fixture
def mapped(tree):
    """Boundaries: CITY, D1 (west), D2 (east), P11 (south-west), P12 (north-west); P21 has none."""
    for code, shape in {"CITY": box(13.0, 52.0, 14.0, 53.0), "D1": box(13.0, 52.0, 13.5, 53.0),
                        "D2": box(13.5, 52.0, 14.0, 53.0), "P11": box(13.0, 52.0, 13.5, 52.5),
                        "P12": box(13.0, 52.5, 13.5, 53.0)}.items():
        region = tree[code]
        region.set_boundary(shape.__geo_interface__)
        region.save()
    return tree


@pytest.fixture
def organizations(tree, tmp_path):
    run = import_now("organizations", write_csv(tmp_path / "traeger.csv", ORGANIZATIONS, ORG_COLUMNS))
    assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
    return {o.name: o for o in Organization.objects.all()}


class TestOrganizations:
    def test_csv_with_bom_crlf_german_labels_and_parent_earlier_in_the_file(self, organizations, tree):
        assert len(organizations) == 3
        provider = organizations["Kinder- und Jugendhilfe Spreebogen e. V."]
        assert (provider.kind, provider.umbrella, provider.legal_form) == ("provider", "paritaetischer", "ev")
        assert provider.register_number == "VR 900001 B" and provider.parent is None
        assert provider.website == "https://www.spreebogen.example" and provider.phone == "030 23125 001"
        assert (provider.street, provider.postal_code, provider.city) == ("Am Fiktivufer 1", "10115", "Berlin")
        assert sorted(provider.regions.values_list("code", flat=True)) == ["D1", "P11"]
        branch = organizations["Familienzentrum Ottergrund"]
        assert branch.parent == provider and branch.legal_form == "ev"
        assert sorted(branch.regions.values_list("code", flat=True)) == ["P11", "P12"]
        school = organizations["Grundschule am Kranichteich"]
        assert (school.kind, school.umbrella, school.legal_form) == ("school", "none", "authority")
        assert school.register_number == "" and school.parent is None  # "–" is nothing

    def test_reimport_changes_nothing_and_updates_what_changed(self, organizations, tmp_path):
        path = write_csv(tmp_path / "traeger.csv", ORGANIZATIONS, ORG_COLUMNS)
        before = {o.pk: o.updated_at for o in Organization.objects.all()}
        run = import_now("organizations", path)
        assert run.summary == {"created": 0, "updated": 0, "unchanged": 3, "total": 3}
        assert {o.pk: o.updated_at for o in Organization.objects.all()} == before
        # renamed (found by its register number), a region less, the branch moves to the school
        rows = [dict(r) for r in ORGANIZATIONS]
        rows[0].update(name="Jugendhilfe Spreebogen e. V.", regions="D1")
        rows[1].update(parent="Grundschule am Kranichteich")
        run = import_now("organizations", write_csv(tmp_path / "neu.csv", rows, ORG_COLUMNS))
        assert run.summary == {"created": 0, "updated": 2, "unchanged": 1, "total": 3}, messages(run)
        provider = Organization.objects.get(register_number="VR 900001 B")
        assert provider.pk == organizations["Kinder- und Jugendhilfe Spreebogen e. V."].pk
        assert provider.name == "Jugendhilfe Spreebogen e. V."
        assert list(provider.regions.values_list("code", flat=True)) == ["D1"]
        assert Organization.objects.get(name="Familienzentrum Ottergrund").parent.name == "Grundschule am Kranichteich"

    def test_parent_in_the_database_by_name_or_register_number(self, organizations, tmp_path):
        rows = [{"name": "Kita Otterkinder", "kind": "Kita", "parent": "VR 900001 B"},
                {"name": "Jugendclub Otter", "parent": "Familienzentrum Ottergrund"}]
        run = import_now("organizations", write_csv(tmp_path / "x.csv", rows, ["name", "kind", "parent"]))
        assert run.summary["created"] == 2, messages(run)
        assert Organization.objects.get(name="Kita Otterkinder").parent.register_number == "VR 900001 B"
        assert Organization.objects.get(name="Jugendclub Otter").parent.name == "Familienzentrum Ottergrund"

    def test_matched_by_name_when_the_register_number_is_new(self, organizations, tmp_path):
        path = write_csv(tmp_path / "x.csv", [{"name": "Familienzentrum Ottergrund", "register_number": "VR 900002 B"}],
                         ["name", "register_number"])
        run = import_now("organizations", path)
        assert run.summary["updated"] == 1 and Organization.objects.count() == 3
        assert Organization.objects.get(name="Familienzentrum Ottergrund").register_number == "VR 900002 B"
        # absent columns are left alone
        branch = Organization.objects.get(name="Familienzentrum Ottergrund")
        assert branch.parent is not None and branch.regions.count() == 2

    def test_xlsx_with_german_headers(self, tree, tmp_path):
        wb = Workbook()
        ws = wb.active
        ws.append(["Name", "Art", "Dachverband", "Rechtsform", "Registernummer", "übergeordnete Organisation", "PLZ",
                   "Räume"])
        ws.append(["Diakoniestation Weidenufer gGmbH", "Träger", "Diakonie", "gGmbH", "HRB 900123 B", None, 10999,
                   "D1"])
        ws.append(["Tagespflege Weidenufer", "freier Träger", "Diakonie", "gGmbH", None, "HRB 900123 B", None, None])
        ws.append(["Ev. Kirchengemeinde Weidenufer", "kirche", None, "kirchliche Körperschaft", None, None, None, None])
        wb.save(tmp_path / "o.xlsx")
        run = import_now("organizations", tmp_path / "o.xlsx")
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        station = Organization.objects.get(register_number="HRB 900123 B")
        assert station.postal_code == "10999" and station.legal_form == "ggmbh" and station.umbrella == "diakonie"
        assert Organization.objects.get(name="Tagespflege Weidenufer").parent == station
        church = Organization.objects.get(name="Ev. Kirchengemeinde Weidenufer")
        assert (church.kind, church.umbrella, church.legal_form) == ("religious", "none", "church_body")

    def test_every_bad_line_reported_and_nothing_written(self, tree, tmp_path):
        rows = [
            {"name": "Gut e. V.", "kind": "provider"},
            {"name": "", "kind": "provider"},  # 3: name missing
            {"name": "Falsch e. V.", "kind": "Raumschiff", "umbrella": "ADAC"},  # 4: kind, umbrella
            {"name": "Kontakt e. V.", "email": "kein-mail", "website": "http://", "postal_code": "1234567"},  # 5
            {"name": "Räume e. V.", "regions": "D1|XX9"},  # 6: unknown region
            {"name": "Kind e. V.", "parent": "Gibt es nicht"},  # 7: unknown parent
            {"name": "Gut e. V."},  # 8: the same organisation again
            {"name": "Selbst e. V.", "parent": "Selbst e. V."},  # 9: own parent
        ]
        run = import_now("organizations", write_csv(tmp_path / "bad.csv", rows, ORG_COLUMNS))
        assert run.status == ImportRun.Status.FAILED
        assert errors(run) == {
            (3, "name"), (4, "kind"), (4, "umbrella"), (5, "email"), (5, "website"), (5, "postal_code"),
            (6, "regions"), (7, "parent"), (8, "name"), (9, "parent"),
        }, messages(run)
        text = messages(run)
        assert "Raumschiff" in text and "XX9" in text and "Gibt es nicht" in text and "Zeile 2" in text
        assert not Organization.objects.exists()

    def test_cycles_and_ambiguous_names_refused(self, tree, tmp_path):
        a = OrganizationFactory(name="A e. V.")
        OrganizationFactory(name="B e. V.", parent=a)
        OrganizationFactory(name="Doppelt e. V.")
        OrganizationFactory(name="Doppelt e. V.")
        rows = [{"name": "A e. V.", "parent": "B e. V."}, {"name": "Doppelt e. V.", "kind": "school"}]
        run = import_now("organizations", write_csv(tmp_path / "c.csv", rows, ["name", "kind", "parent"]))
        assert errors(run) == {(2, "parent"), (3, "name")}, messages(run)
        assert "Zyklus" in messages(run) and "nicht eindeutig" in messages(run)
        assert Organization.objects.get(name="A e. V.").parent is None

    def test_unknown_and_missing_columns(self, tree, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text("Bezeichnung;Farbe\nX;blau\n", encoding="utf-8")
        run = import_now("organizations", path)
        assert run.status == ImportRun.Status.FAILED
        assert "Farbe" in messages(run) and "„name“ fehlt" in messages(run)
        run = import_now("organizations", path, options={"columns": {"name": "Bezeichnung"},
                                                         "ignore_columns": ["Farbe"]})
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert Organization.objects.get().name == "X"

    def test_dry_run_writes_nothing(self, tree, tmp_path):
        run = import_now("organizations", write_csv(tmp_path / "o.csv", ORGANIZATIONS, ORG_COLUMNS), dry_run=True)
        assert run.status == ImportRun.Status.SUCCEEDED and run.summary["created"] == 3
        assert not Organization.objects.exists()


class TestServices:
    def test_csv_with_every_column_labels_and_decimal_commas(self, mapped, organizations, tmp_path):
        path = write_csv(tmp_path / "angebote.csv", [service()], SERVICE_COLUMNS)
        run = import_now("services", path)
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert run.summary == {"created": 1, "updated": 0, "unchanged": 0, "total": 1, "locations_created": 1,
                               "locations_updated": 0}
        s = Service.objects.get()
        assert s.organization == organizations["Kinder- und Jugendhilfe Spreebogen e. V."]
        assert s.name == "Erziehungsberatung Spreebogen" and s.keywords == "Erziehung, Beratung, Familie"
        assert sorted(s.fields.values_list("key", flat=True)) == ["familienbildung", "kjh-hze-erziehungsberatung"]
        assert (s.setting, s.work_mode, s.cost, s.status) == ("ambulant", "case_specific", "free", "active")
        assert sorted(s.target_groups.values_list("key", flat=True)) == ["eltern", "kinder"]
        assert (s.age_min, s.age_max) == (0, 27)
        assert s.legal_bases == ["sgb8_27", "sgb8_16"] and s.languages == ["de", "tr", "en"]
        assert s.accessibility == ["step_free", "lift"] and s.access_modes == ["appointment", "walk_in"]
        assert s.city_wide is False and sorted(s.regions.values_list("code", flat=True)) == ["P11", "P12"]
        assert (s.opening_hours, s.email, s.phone) == ("Mo–Fr 9–17 Uhr", "beratung@spreebogen.example",
                                                       "030 23125 002")
        assert s.url == "https://spreebogen.example/beratung"
        assert (s.capacity, s.free_places, s.free_places_reported_at) == (12, 3, datetime.date(2025, 2, 1))
        location = s.locations.get()
        assert (location.name, location.street, location.postal_code, location.city) == (
            "Beratungsstelle", "Am Fiktivufer 1", "10115", "Berlin")
        assert (location.latitude, location.longitude) == (D("52.250000"), D("13.250000"))
        assert location.region == mapped["P11"]  # the deepest region containing the point
        assert location.organization == s.organization

    def test_location_region_is_what_location_save_would_find(self, mapped, organizations, tmp_path):
        rows = [
            service(name="Ost", street="Ostweg 1", latitude="52.2", longitude="13.75"),  # D2 (P21 has no boundary)
            service(name="Nord", street="Nordweg 1", latitude="52.8", longitude="13.2"),  # P12
            service(name="Draußen", street="Weit weg 1", latitude="48.1", longitude="11.5"),  # outside every region
            service(name="Ohne Punkt", street="Punktlos 1", latitude="", longitude=""),
        ]
        run = import_now("services", write_csv(tmp_path / "a.csv", rows, SERVICE_COLUMNS))
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        for location in Location.objects.all():
            found = location.find_region()
            assert location.region == found, location
        regions = {loc.street: loc.region.code if loc.region else None for loc in Location.objects.all()}
        assert regions == {"Ostweg 1": "D2", "Nordweg 1": "P12", "Weit weg 1": None, "Punktlos 1": None}

    def test_xlsx(self, mapped, organizations, tmp_path):
        row = service(name="Jugendclub Otter", organization="Familienzentrum Ottergrund", fields="Jugendarbeit",
                      setting="offen", work_mode="präventiv", target_groups="jugendliche", age_min=12, age_max=21,
                      legal_bases="§ 11 SGB VIII", languages="de", accessibility="", access_modes="ohne Anmeldung",
                      cost="einkommensabhängig", cost_note="5 € im Monat", city_wide=True, regions="",
                      latitude=52.75, longitude=13.25, capacity=None, free_places=None,
                      free_places_reported_at=None, status="vorübergehend geschlossen", street="Otterweg 2")
        wb_rows = [row, service(name="Kita Otter", organization="Familienzentrum Ottergrund", fields="kjh-kita",
                                capacity=40, free_places=0, free_places_reported_at=datetime.datetime(2025, 3, 1),
                                street="Otterweg 2", latitude=52.75, longitude=13.25, city_wide="ja")]
        run = import_now("services", write_xlsx(tmp_path / "a.xlsx", wb_rows, SERVICE_COLUMNS))
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert run.summary["created"] == 2 and run.summary["locations_created"] == 1
        club = Service.objects.get(name="Jugendclub Otter")
        assert (club.setting, club.work_mode, club.cost, club.status) == (
            "open", "case_unspecific", "income_dependent", "temporarily closed")
        assert club.legal_bases == ["sgb8_11"] and club.access_modes == ["walk_in"] and club.accessibility == []
        assert (club.age_min, club.age_max, club.city_wide, club.capacity) == (12, 21, True, None)
        assert not club.regions.exists()
        kita = Service.objects.get(name="Kita Otter")
        assert (kita.capacity, kita.free_places, kita.free_places_reported_at) == (40, 0, datetime.date(2025, 3, 1))
        assert kita.locations.get() == club.locations.get() and kita.locations.get().region == mapped["P12"]
        assert import_now("services", tmp_path / "a.xlsx").summary["unchanged"] == 2

    def test_reimport_is_idempotent_and_a_change_updates_one_row(self, mapped, organizations, tmp_path):
        rows = [service(), service(name="Elterncafé", fields="kjh-familienfoerderung", capacity="", free_places="",
                                   free_places_reported_at="", street="Am Fiktivufer 1", latitude="", longitude="")]
        path = write_csv(tmp_path / "a.csv", rows, SERVICE_COLUMNS)
        first = import_now("services", path)
        assert first.summary["created"] == 2 and first.summary["locations_created"] == 1, messages(first)
        stamps = dict(Service.objects.values_list("pk", "updated_at"))
        again = import_now("services", path)
        assert again.summary == {"created": 0, "updated": 0, "unchanged": 2, "total": 2, "locations_created": 0,
                                 "locations_updated": 0}
        assert dict(Service.objects.values_list("pk", "updated_at")) == stamps
        assert Location.objects.count() == 1
        # spelled differently (comma delimiter, whitespace, list order) is still the same
        rows[0].update(languages="Englisch|Deutsch|tr", organization="  VR 900001 B ", target_groups="kinder|eltern")
        same = import_now("services", write_csv(tmp_path / "b.csv", rows, SERVICE_COLUMNS, delimiter=",", bom=False))
        assert same.summary["unchanged"] == 2, messages(same)
        # one change: free places
        rows[0].update(free_places="0", free_places_reported_at="2025-03-01")
        changed = import_now("services", write_csv(tmp_path / "c.csv", rows, SERVICE_COLUMNS))
        assert (changed.summary["updated"], changed.summary["unchanged"]) == (1, 1)
        assert Service.objects.get(name="Erziehungsberatung Spreebogen").free_places == 0

    def test_only_some_columns_update_only_those(self, mapped, organizations, tmp_path):
        import_now("services", write_csv(tmp_path / "a.csv", [service()], SERVICE_COLUMNS))
        path = write_csv(tmp_path / "b.csv", [{"Organisation": "VR 900001 B", "Angebot": "Erziehungsberatung Spreebogen",
                                               "freie Plätze": "5", "Stand freie Plätze": "02.03.2025"}],
                         ["Organisation", "Angebot", "freie Plätze", "Stand freie Plätze"])
        run = import_now("services", path)
        assert run.summary["updated"] == 1, messages(run)
        s = Service.objects.get()
        assert s.free_places == 5 and s.capacity == 12 and s.fields.count() == 2 and s.locations.count() == 1
        # the stored capacity counts for the check
        path = write_csv(tmp_path / "c.csv", [{"organization": "VR 900001 B", "name": "Erziehungsberatung Spreebogen",
                                               "free_places": "13"}], ["organization", "name", "free_places"])
        run = import_now("services", path)
        assert errors(run) == {(2, "free_places")} and Service.objects.get().free_places == 5

    def test_every_bad_line_reported_and_nothing_written(self, mapped, organizations, tmp_path):
        FieldOfActionFactory(key="alt", name="Altes Feld", active=False)
        rows = [
            service(),  # 2: good
            service(name="A", organization="Unbekannt e. V."),  # 3
            service(name="B", fields="kjh-hze|gibt-es-nicht", target_groups="Marsianer"),  # 4
            service(name="C", age_min="18", age_max="6"),  # 5
            service(name="D", capacity="5", free_places="6"),  # 6
            service(name="E", latitude="95", longitude="13,2"),  # 7
            service(name="F", free_places_reported_at="31.02.2025", status="verschwunden"),  # 8
            service(name="G", free_places_reported_at="", city_wide="vielleicht"),  # 9: undated free places
            service(name="H", age_min="drei", capacity="-1", languages="Klingonisch"),  # 10
            service(name="I", street="", postal_code="ABC"),  # 11
            service(name="J", fields="alt", free_places_reported_at="01.01.2999"),  # 12: inactive field, future
            service(),  # 13: the same offering again
            service(name="K", fields=""),  # 14: a new offering needs a field
            service(name="L", latitude="52,3", longitude=""),  # 15
        ]
        run = import_now("services", write_csv(tmp_path / "bad.csv", rows, SERVICE_COLUMNS))
        assert run.status == ImportRun.Status.FAILED
        assert errors(run) == {
            (3, "organization"), (4, "fields"), (4, "target_groups"), (5, "age_max"), (6, "free_places"),
            (7, "latitude"), (8, "free_places_reported_at"), (8, "status"), (9, "free_places_reported_at"),
            (9, "city_wide"), (10, "age_min"), (10, "capacity"), (10, "languages"), (11, "street"),
            (11, "postal_code"), (12, "fields"), (12, "free_places_reported_at"), (13, "name"), (14, "fields"),
            (15, "longitude"),
        }, messages(run)
        text = messages(run)
        for expected in ("Unbekannt e. V.", "gibt-es-nicht", "Marsianer", "Alter", "mehr freie Plätze", "95",
                         "31.02.2025", "verschwunden", "vielleicht", "drei", "Klingonisch", "inaktiv", "Zukunft",
                         "Zeile 2"):
            assert expected in text, expected
        assert not Service.objects.exists() and not Location.objects.exists()

    def test_organisation_by_name_and_ambiguous_names(self, mapped, organizations, tmp_path):
        OrganizationFactory(name="Doppelt e. V.")
        OrganizationFactory(name="Doppelt e. V.")
        rows = [service(organization="Kinder- und Jugendhilfe Spreebogen e. V."), service(organization="Doppelt e. V.")]
        run = import_now("services", write_csv(tmp_path / "a.csv", rows, SERVICE_COLUMNS))
        assert errors(run) == {(3, "organization")} and "nicht eindeutig" in messages(run)
        run = import_now("services", write_csv(tmp_path / "b.csv", rows[:1], SERVICE_COLUMNS))
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)

    def test_stored_location_found_by_address_and_its_point_updated(self, mapped, organizations, tmp_path):
        org = organizations["Kinder- und Jugendhilfe Spreebogen e. V."]
        stored = LocationFactory(organization=org, street="Fiktivstraße 1", postal_code="10115", city="Berlin",
                                 latitude=D("52.7"), longitude=D("13.2"))
        assert stored.region == mapped["P12"]
        run = import_now("services", write_csv(tmp_path / "a.csv", [service(street="Fiktivstr.  1")],
                                               SERVICE_COLUMNS))
        assert run.summary["locations_created"] == 0 and run.summary["locations_updated"] == 1, messages(run)
        stored.refresh_from_db()
        assert stored.region == mapped["P11"] and (stored.latitude, stored.longitude) == (D("52.25"), D("13.25"))
        assert Service.objects.get().locations.get() == stored

    def test_same_address_with_other_coordinates_refused(self, mapped, organizations, tmp_path):
        rows = [service(), service(name="Zweites", latitude="52,3")]
        run = import_now("services", write_csv(tmp_path / "a.csv", rows, SERVICE_COLUMNS))
        assert errors(run) == {(3, "latitude")} and "Zeile 2" in messages(run)

    def test_existing_offering_keeps_its_inactive_field(self, mapped, organizations, tmp_path):
        old = FieldOfAction.objects.create(key="alt", name="Altes Feld")
        s = ServiceFactory(organization=organizations["Kinder- und Jugendhilfe Spreebogen e. V."],
                           name="Erziehungsberatung Spreebogen", fields=[old])
        old.active = False
        old.save()
        run = import_now("services", write_csv(tmp_path / "a.csv", [service(fields="alt")], SERVICE_COLUMNS))
        assert run.status == ImportRun.Status.SUCCEEDED, messages(run)
        assert list(s.fields.all()) == [old]


class TestPermissions:
    @pytest.mark.parametrize("persona", ["viewer", "provider_editor_a", "region_lead"])
    @pytest.mark.parametrize("kind", ["organizations", "services"])
    def test_upload_refused_to_everyone_but_planners(self, request, client, tree, persona, kind):
        client.force_login(request.getfixturevalue(persona))
        text = csv_text(ORGANIZATIONS, ORG_COLUMNS) if kind == "organizations" else csv_text([service()],
                                                                                              SERVICE_COLUMNS)
        response = client.post("/importe/neu/", {"kind": kind, "file": SimpleUploadedFile("x.csv", text.encode())})
        assert response.status_code == 403
        assert not ImportRun.objects.exists() and not Service.objects.exists()
        assert not Organization.objects.filter(name__in=[o["name"] for o in ORGANIZATIONS]).exists()

    def test_planner_uploads_on_the_import_page(self, client, planner, mapped, organizations,
                                                django_capture_on_commit_callbacks, eager_celery):
        client.force_login(planner)
        upload = SimpleUploadedFile("angebote.csv", csv_text([service()], SERVICE_COLUMNS).encode())
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/importe/neu/", {"kind": "services", "file": upload, "options": ""})
        assert response.status_code == 302
        run = ImportRun.objects.get(kind="services")
        assert run.status == ImportRun.Status.SUCCEEDED and run.created_by == planner, run.errors
        s = Service.objects.get()
        assert s.created_by == planner and s.locations.get().created_by == planner

    def test_planner_through_the_api(self, planner, mapped, organizations, django_capture_on_commit_callbacks,
                                     eager_celery):
        from tests.conftest import client_for

        upload = SimpleUploadedFile("angebote.csv", csv_text([service()], SERVICE_COLUMNS).encode())
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(planner).post("/api/v1/imports/", {"kind": "services", "file": upload},
                                                format="multipart")
        assert response.status_code == 202, response.content
        assert ImportRun.objects.get(pk=response.json()["id"]).status == ImportRun.Status.SUCCEEDED

    def test_importer_refuses_what_the_user_may_not_change(self, mapped, org_a, org_b, provider_editor_a, viewer,
                                                           tmp_path):
        path = write_csv(tmp_path / "o.csv", ORGANIZATIONS[:1], ORG_COLUMNS)
        run = import_now("organizations", path, user=viewer)
        assert run.status == ImportRun.Status.FAILED and "keine Berechtigung" in messages(run)
        rows = [service(organization=org_a.name, name="Eigenes"), service(organization=org_b.name, name="Fremdes")]
        run = import_now("services", write_csv(tmp_path / "s.csv", rows, SERVICE_COLUMNS), user=provider_editor_a)
        assert errors(run) == {(3, "organization")} and "keine Berechtigung" in messages(run)
        assert not Service.objects.exists()


class TestCommand:
    def test_import_data_services(self, mapped, organizations, tmp_path, capsys):
        path = write_csv(tmp_path / "angebote.csv", [service()], SERVICE_COLUMNS)
        call_command("import_data", "services", str(path))
        assert "created=1" in capsys.readouterr().out
        call_command("import_data", "services", str(path))
        assert "created=0, updated=0, unchanged=1" in capsys.readouterr().out

    def test_bad_file_is_a_command_error_with_lines(self, mapped, organizations, tmp_path, capsys):
        path = write_csv(tmp_path / "angebote.csv", [service(age_min="x1")], SERVICE_COLUMNS)
        with pytest.raises(CommandError, match="nichts geschrieben"):
            call_command("import_data", "services", str(path))
        assert "Zeile 2, Spalte age_min" in capsys.readouterr().err
