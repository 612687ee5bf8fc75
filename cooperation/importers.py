"""Bulk imports of organisations and service offerings (CSV/XLSX).

Same rules as every import (``core.imports``): one transaction; every bad cell
is reported with its line number and column and then nothing is written;
re-importing the same file changes nothing (unchanged rows are counted, not
rewritten). Lookups are done in bulk (a handful of queries per file, whatever
its length); writes are ``bulk_create``/``bulk_update``.

Columns have English keys (``name``, ``kind`` …); German headers such as
``Name``, ``Art``, ``Dachverband`` or ``PLZ`` are understood as well. A column
that is present is authoritative for the rows it matches (an empty cell clears
the value, an empty list cell removes all entries); a column that is absent
leaves that attribute of existing rows alone.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import shapely
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.utils import timezone, translation

from core.access import Action
from core.imports.parsing import ZERO_SYMBOLS, CellError, is_missing, parse_decimal, parse_period
from core.models import FieldOfAction
from regions.importers import ProfileImporter
from regions.models import Region

from . import access
from .choices import (
    Accessibility,
    AccessMode,
    Cost,
    Language,
    LegalBasis,
    LegalForm,
    OrganizationKind,
    ServiceStatus,
    Setting,
    Umbrella,
    WorkMode,
)
from .models import MAX_AGE, Location, Organization, Service, TargetGroup

BATCH = 2000
MAX_INT = 2_147_483_647  # PositiveIntegerField
COORDINATE = Decimal("0.000001")
_BAD = object()  # a cell that could not be read (its error is recorded)
BLANK_SYMBOLS = ZERO_SYMBOLS | {".", "..."}  # "nothing there" in an optional text cell
TRUE_WORDS = {"ja", "j", "yes", "y", "true", "wahr", "1", "x", "✓", "✔"}
FALSE_WORDS = {"nein", "n", "no", "false", "falsch", "0"} | ZERO_SYMBOLS
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


# --- normalising ---------------------------------------------------------------------


def squash(text: str) -> str:
    """Whitespace collapsed (names are matched exactly apart from that)."""
    return " ".join(text.split())


def loose(text: str) -> str:
    """Key for matching labels and register numbers: case, whitespace and
    umlaut spelling ignored ("e. V." = "e.V.", "teilstationaer" = "teilstationär")."""
    return re.sub(r"\s+", "", text.casefold()).translate(_UMLAUTS)


def header_key(text: str) -> str:
    return re.sub(r"[\s_.\-]+", "", text.casefold()).translate(_UMLAUTS)


class ChoiceMap:
    """Reads a choice from its key or its label (German, or the UI's other
    language), also from the parts of a label ("e. V." for "eingetragener Verein
    (e. V.)", "offen" for "offen / niedrigschwellig") when they are unambiguous.
    Built on first use (labels are translated lazily)."""

    def __init__(self, choices, what: str, aliases: dict[str, str] | None = None):
        self.choices, self.what, self.aliases = choices, what, aliases or {}
        self._map: dict[str, str] | None = None

    def _build(self):
        choices = self.choices
        strong: dict[str, set] = defaultdict(set)
        weak: dict[str, set] = defaultdict(set)
        with translation.override("de"):
            self._expected = ", ".join(f"{c.value} ({c.label})" for c in choices)
        for lang in ("de", "en"):
            with translation.override(lang):
                for c in choices:
                    label = str(c.label)
                    for alias in (c.value, c.value.replace(" ", "_"), label):
                        strong[loose(alias)].add(c.value)
                    for part in re.split(r"\s*[()/]\s*", label):
                        if part.strip():
                            weak[loose(part)].add(c.value)
                            for reordered in _reordered(part):
                                weak[loose(reordered)].add(c.value)
        for alias, value in self.aliases.items():
            strong[loose(alias)].add(str(getattr(value, "value", value)))
        mapping = {}
        for key, values in weak.items():
            if len(values) == 1 and key not in strong:
                mapping[key] = next(iter(values))
        for key, values in strong.items():
            if len(values) == 1:
                mapping[key] = next(iter(values))
        self._map = mapping

    @property
    def expected(self) -> str:
        if self._map is None:
            self._build()
        return self._expected

    @property
    def hint(self) -> str:
        return f": {self.expected}"

    def get(self, text: str) -> str | None:
        if self._map is None:
            self._build()
        return self._map.get(loose(text))

    def parse(self, text: str) -> str:
        value = self.get(text)
        if value is None:
            raise CellError(f"{self.what} {text!r} ist unbekannt (erwartet Schlüssel oder Bezeichnung: {self.expected})")
        return value


def _reordered(part: str) -> list[str]:
    """Other common spellings of a legal reference: 'SGB VIII §§ 27 ff.' →
    '§§ 27 ff. SGB VIII', '§ 27 SGB VIII', 'SGB VIII § 27'."""
    m = re.match(r"^(SGB [IVX]+)\s+(§+)\s*(\d+[a-z]?)(\s*ff\.)?$", part.strip())
    if not m:
        return []
    book, number = m[1], m[3]
    return [f"{m[2]} {number}{m[4] or ''} {book}", f"§ {number} {book}", f"{book} § {number}"]


KINDS = ChoiceMap(OrganizationKind, "Art", {
    "Träger": OrganizationKind.PROVIDER, "Leistungserbringer": OrganizationKind.PROVIDER,
    "Jugendamt": OrganizationKind.PUBLIC_FUNDER, "Sozialamt": OrganizationKind.PUBLIC_FUNDER,
    "Kindertagesstätte": OrganizationKind.DAYCARE, "Kindergarten": OrganizationKind.DAYCARE,
    "Kirchengemeinde": OrganizationKind.RELIGIOUS, "Agentur für Arbeit": OrganizationKind.JOB_CENTRE,
    "Gesundheitsamt": OrganizationKind.HEALTH, "Initiative": OrganizationKind.INITIATIVE,
    "Firma": OrganizationKind.BUSINESS,
})
UMBRELLAS = ChoiceMap(Umbrella, "Dachverband", {
    "Der Paritätische": Umbrella.PARITAETISCHER, "Paritätischer Wohlfahrtsverband": Umbrella.PARITAETISCHER,
    "DPW": Umbrella.PARITAETISCHER, "Diakonisches Werk": Umbrella.DIAKONIE, "Caritasverband": Umbrella.CARITAS,
    "Arbeiterwohlfahrt": Umbrella.AWO, "Deutsches Rotes Kreuz": Umbrella.DRK,
    "Zentralwohlfahrtsstelle der Juden in Deutschland": Umbrella.ZWST, "kein": Umbrella.NONE,
    "ohne": Umbrella.NONE,
})
LEGAL_FORMS = ChoiceMap(LegalForm, "Rechtsform", {
    "eV": LegalForm.EV, "Verein": LegalForm.EV, "eingetragener Verein": LegalForm.EV, "eG": LegalForm.COOPERATIVE,
    "Genossenschaft": LegalForm.COOPERATIVE, "KdöR": LegalForm.PUBLIC_BODY, "AöR": LegalForm.PUBLIC_BODY,
    "Körperschaft des öffentlichen Rechts": LegalForm.PUBLIC_BODY, "Behörde": LegalForm.AUTHORITY,
    "GbR": LegalForm.PARTNERSHIP,
})
SETTINGS = ChoiceMap(Setting, "Form (Setting)")
WORK_MODES = ChoiceMap(WorkMode, "Arbeitsweise", {"präventiv": WorkMode.CASE_UNSPECIFIC})
COSTS = ChoiceMap(Cost, "Kostenart", {"kostenlos": Cost.FREE, "gebührenfrei": Cost.FREE})
STATUSES = ChoiceMap(ServiceStatus, "Status", {"geschlossen": ServiceStatus.TEMPORARILY_CLOSED})
ACCESS_MODES = ChoiceMap(AccessMode, "Zugangsart", {"Termin": AccessMode.APPOINTMENT, "telefonisch": AccessMode.ONLINE})
LEGAL_BASES = ChoiceMap(LegalBasis, "Rechtsgrundlage")
LANGUAGES = ChoiceMap(Language, "Sprache", {"DGS": Language.DGS, "Gebärdensprache": Language.DGS})
ACCESSIBILITY = ChoiceMap(Accessibility, "Barrierefreiheit")


def split_list(text: str, resolve) -> tuple[list, list[str]]:
    """Values of a list cell: parts separated by ``|``; a part that is not a
    value as a whole is split again at ``,`` or ``;`` (so names containing a
    comma still work). Returns (values in order without repeats, unknown parts)."""
    values, unknown = [], []
    for part in text.split("|"):
        part = part.strip()
        if not part or part in BLANK_SYMBOLS:
            continue
        value = resolve(part)
        if value is not None:
            values.append(value)
            continue
        for sub in re.split(r"[,;]", part):
            sub = sub.strip()
            if not sub:
                continue
            value = resolve(sub)
            if value is None:
                unknown.append(sub)
            else:
                values.append(value)
    return list(dict.fromkeys(values)), unknown


# --- regions from points -------------------------------------------------------------


class RegionLocator:
    """The deepest region whose boundary covers a point, for many points at
    once: the same answer as ``Region.objects.containing_point(lon, lat).first()``
    (what ``Location.save`` stores), without a query per point. Among regions of
    the same depth, the lowest code wins."""

    def __init__(self, regions=None):
        if regions is None:
            regions = Region.objects.exclude(boundary=None).only("pk", "code", "depth", "boundary")
        rows = sorted(((r.depth, r.code, r.pk, r.boundary) for r in regions), key=lambda t: (-t[0], t[1]))
        self.ids = [pk for _, _, pk, _ in rows]
        self.geometries = [shapely.geometry.shape(boundary) for _, _, _, boundary in rows]
        self.tree = shapely.STRtree(self.geometries) if self.geometries else None

    def locate(self, points: list[tuple[float, float]]) -> list[int | None]:
        """Region id per (lon, lat) point (None outside every boundary)."""
        out: list[int | None] = [None] * len(points)
        if self.tree is None or not points:
            return out
        geoms = shapely.points([(float(lon), float(lat)) for lon, lat in points])
        best: dict[int, int] = {}
        point_idx, region_idx = self.tree.query(geoms, predicate="covered_by")
        for p, r in zip(point_idx.tolist(), region_idx.tolist(), strict=True):
            if p not in best or r < best[p]:  # rows are sorted deepest first, then by code
                best[p] = r
        for p, r in best.items():
            out[p] = self.ids[r]
        return out


# --- the common part -----------------------------------------------------------------


@dataclass
class Row:
    line: int
    values: dict = field(default_factory=dict)  # attname → value (columns present in the file)
    lists: dict = field(default_factory=dict)  # many-to-many field → ids (columns present)


class TableImporter(ProfileImporter):
    """Reads a table whose columns are named in ``COLUMNS`` (English key →
    German aliases). Unknown columns are an error unless ignored."""

    COLUMNS: dict[str, tuple[str, ...]] = {}
    REQUIRED: tuple[str, ...] = ()
    model = None

    option_help = {
        "columns": "Spaltenzuordnung Schlüssel → Spalte der Datei, z. B. {\"name\": \"Bezeichnung\"}",
        "ignore_columns": "Spalten der Datei, die nicht eingelesen werden, z. B. [\"Bemerkung\"]",
        "decimal": "Dezimaltrennzeichen , oder . (sonst automatisch)",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bad_cells: set[tuple[int, str]] = set()  # (line, column) of the cells with an error
        self._memo: dict[tuple[str, str], tuple[bool, object]] = {}
        columns = self.options.get("columns") or {}
        ignore = self.options.get("ignore_columns") or []
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise ValueError("Option columns: erwartet ein Objekt Schlüssel → Spaltenname")
        unknown = sorted(set(columns) - set(self.COLUMNS))
        if unknown:
            raise ValueError(f"Option columns: unbekannte Schlüssel {', '.join(unknown)} "
                             f"(bekannt: {', '.join(self.COLUMNS)})")
        if not isinstance(ignore, list):
            raise ValueError("Option ignore_columns: erwartet eine Liste von Spaltennamen")

    def run(self, source) -> dict:
        with translation.override("de"):  # messages of model validators in German, like the importers' own
            table = self._open(source)
            try:
                self._map_columns(table.header)
                self.reject_if_errors()
                rows = []
                for line, cells in table.rows:
                    rows.append(self.read_row(line, {c: _text(cells, i) for c, i in self.idx.items()}))
            finally:
                table.close()
            return self.process(rows)

    def read_row(self, line: int, cells: dict[str, str]) -> Row:  # pragma: no cover - subclasses
        """The row's values (its errors recorded); ``cells`` holds the columns present."""
        raise NotImplementedError

    def process(self, rows) -> dict:  # pragma: no cover - subclasses
        """Match, check (raise ImportRejected with every error), write; the summary."""
        raise NotImplementedError

    # -- columns ---------------------------------------------------------------------

    def _map_columns(self, header):
        explicit = {name: key for key, name in (self.options.get("columns") or {}).items()}
        aliases = {}
        for key, names in self.COLUMNS.items():
            for name in (key, *names):
                aliases.setdefault(header_key(name), key)
        ignore = {header_key(c) for c in self.options.get("ignore_columns") or []}
        self.idx, self.colname, unknown = {}, {}, []
        for i, name in enumerate(header):
            if not name.strip() or header_key(name) in ignore:
                continue
            key = explicit.get(name) or aliases.get(header_key(name))
            if key is None:
                unknown.append(name)
            elif key in self.idx:
                self.errors.add(1, f"Spalte „{name}“ steht doppelt in der Datei (wie „{self.colname[key]}“)", name)
            else:
                self.idx[key], self.colname[key] = i, name
        if unknown:
            self.errors.add(1, f"unbekannte Spalten: {', '.join(unknown)}. Bekannt sind: {', '.join(self.COLUMNS)} "
                               "(deutsche Spaltennamen wie Name, Art, PLZ gehen auch; sonst ignore_columns angeben)")
        for key in self.REQUIRED:
            if key not in self.idx:
                self.errors.add(1, f"Spalte „{key}“ fehlt. Vorhandene Spalten: {', '.join(header)}")

    def has(self, *columns) -> bool:
        return any(c in self.idx for c in columns)

    def error(self, line, column, message):
        self.errors.add(line, message, self.colname.get(column, column))
        self.bad_cells.add((line, column))

    def reject_if_errors(self):
        """Errors in file order (cells as they were read, then the checks that
        compare rows with each other and with the database)."""
        self.errors.items.sort(key=lambda e: e.line or 0)
        super().reject_if_errors()

    # -- cells -----------------------------------------------------------------------

    def parsed(self, line, column, text, parse):
        """``parse(text)`` (raises CellError with a German message), memoised
        per column and text: real files repeat the same cells many times. The
        value, or _BAD after recording the error."""
        key = (column, text)
        hit = self._memo.get(key)
        if hit is None:
            try:
                hit = (True, parse(text))
            except CellError as e:
                hit = (False, str(e))
            self._memo[key] = hit
        if hit[0]:
            return hit[1]
        self.error(line, column, hit[1])
        return _BAD

    def text(self, row, cells, column, attname=None, *, required=False, blankable=True):
        """A text cell into ``row.values[attname]`` (validated by the model field)."""
        if column not in cells:
            return
        attname = attname or column
        value = cells[column]
        if blankable and value in BLANK_SYMBOLS:
            value = ""
        if not value:
            if required:
                self.error(row.line, column, "Wert fehlt")
                return
        else:
            value = self.parsed(row.line, column, value, lambda v: self._valid_text(attname, v))
            if value is _BAD:
                return
        row.values[attname] = value

    def _valid_text(self, attname, value):
        model_field = self.model._meta.get_field(attname)
        if isinstance(model_field, models.URLField) and not re.match(r"^[a-z][a-z0-9+.\-]*://", value, re.I):
            value = f"https://{value}"
        try:
            model_field.run_validators(value)
        except ValidationError as e:
            raise CellError(f"{value!r}: {' '.join(e.messages)}") from None
        return value

    def choice(self, row, cells, column, choices: ChoiceMap, default):
        if column not in cells:
            return
        text = cells[column]
        if not text or text in BLANK_SYMBOLS:
            row.values[column] = default
            return
        value = self.parsed(row.line, column, text, choices.parse)
        if value is not _BAD:
            row.values[column] = value

    def choice_list(self, row, cells, column, choices: ChoiceMap):
        if column in cells:
            value = self.parsed(row.line, column, cells[column], lambda text: self._list(text, choices))
            if value is not _BAD:
                row.values[column] = list(value)

    def id_list(self, row, cells, column, lookup):
        """Keys or names of a catalogue (fields of action, target groups) → ids."""
        if column in cells:
            value = self.parsed(row.line, column, cells[column], lambda text: self._list(text, lookup))
            if value is not _BAD:
                row.lists[column] = value

    @staticmethod
    def _list(text, lookup):
        values, unknown = split_list(text, lookup.get)
        if unknown:
            raise CellError(f"{lookup.what} unbekannt: {', '.join(repr(u) for u in unknown)} "
                            f"(erwartet Schlüssel oder Bezeichnung{lookup.hint}; mehrere mit | getrennt)")
        return values

    def integer(self, line, column, text, maximum=MAX_INT):
        """None (empty cell), an int ≥ 0, or _BAD."""
        return self.parsed(line, column, text, lambda t: self._integer(t, maximum))

    def _integer(self, text, maximum):
        if is_missing(text):
            return None
        value = parse_decimal(text, self.decimal)
        if value != value.to_integral_value():
            raise CellError(f"{text!r} ist keine ganze Zahl")
        if value < 0:
            raise CellError(f"{text!r} darf nicht negativ sein")
        if value > maximum:
            raise CellError(f"{text!r} ist zu groß (höchstens {maximum})")
        return int(value)

    def boolean(self, line, column, text):
        return self.parsed(line, column, text, _boolean)

    def date(self, line, column, text):
        return self.parsed(line, column, text, _date)

    def coordinate(self, line, column, text, limit):
        return self.parsed(line, column, text, lambda t: self._coordinate(t, limit))

    def _coordinate(self, text, limit):
        if is_missing(text):
            return None
        value = parse_decimal(text, self.decimal)
        if not -limit <= value <= limit:
            raise CellError(f"{text!r} liegt nicht zwischen −{limit} und {limit} (WGS84, Grad)")
        return value.quantize(COORDINATE)

    def region_list(self, row, cells, column, regions: "RegionCodes"):
        if column in cells:
            value = self.parsed(row.line, column, cells[column], regions.parse)
            if value is not _BAD:
                row.lists[column] = value

    # -- permissions -----------------------------------------------------------------

    def changeable_organization_ids(self):
        """None: every organisation; else the ids the user may change."""
        if self.user is None or access.is_planner(self.user) or getattr(self.user, "is_superuser", False):
            return None
        return set(Organization.objects.for_user(self.user, Action.CHANGE).values_list("pk", flat=True))


def _boolean(text):
    word = text.strip().casefold()
    if word in TRUE_WORDS:
        return True
    if not word or word in FALSE_WORDS:
        return False
    raise CellError(f"{text!r}: erwartet ja oder nein")


def _date(text):
    if is_missing(text):
        return None
    try:
        iso = parse_period(text)
    except CellError:
        iso = ""
    if len(iso) != 10:
        raise CellError(f"kein Datum: {text!r} (erwartet z. B. 31.12.2025 oder 2025-12-31)")
    return date.fromisoformat(iso)


def _text(cells, idx) -> str:
    return cells[idx].strip() if idx < len(cells) else ""


class RegionCodes:
    """Region code → id; an XLSX number cell that lost its leading zeros
    ("110" for "0110") still finds the region when that is unambiguous."""

    def __init__(self):
        self.codes = dict(Region.objects.values_list("code", "pk"))
        stripped = defaultdict(list)
        for code, pk in self.codes.items():
            if code.isdigit():
                stripped[code.lstrip("0")].append(pk)
        self.stripped = {k: v[0] for k, v in stripped.items() if len(v) == 1}

    def get(self, code):
        pk = self.codes.get(code)
        if pk is None and code.isdigit():
            pk = self.stripped.get(code.lstrip("0"))
        return pk

    def parse(self, text) -> list[int]:
        """Codes separated by ``,``, ``|``, ``;`` or spaces → region ids."""
        ids, unknown = [], []
        for code in re.split(r"[,|;\s]+", text):
            if not code or code in BLANK_SYMBOLS:
                continue
            pk = self.get(code)
            if pk is None:
                unknown.append(code)
            else:
                ids.append(pk)
        if unknown:
            raise CellError(f"unbekannte Raumschlüssel: {', '.join(unknown)}")
        return list(dict.fromkeys(ids))


class ManyToMany:
    """Reads and writes the rows of an auto-created many-to-many table in bulk
    (plain SQL with arrays: one statement each for reading, adding, removing;
    these link tables have no history or signals of their own)."""

    def __init__(self, model, name):
        m2m = model._meta.get_field(name)
        through = m2m.remote_field.through
        self.table = connection.ops.quote_name(through._meta.db_table)
        self.src = connection.ops.quote_name(through._meta.get_field(m2m.m2m_field_name()).column)
        self.dst = connection.ops.quote_name(through._meta.get_field(m2m.m2m_reverse_field_name()).column)
        self.current: dict[int, set] = {}
        self.row_ids: dict[tuple, int] = {}
        self.add: list[tuple[int, int]] = []
        self.remove: list[int] = []

    def load(self, owner_ids):
        if not owner_ids:
            return
        with connection.cursor() as cur:
            cur.execute(f"SELECT id, {self.src}, {self.dst} FROM {self.table} WHERE {self.src} = ANY(%s)",
                        [list(owner_ids)])
            for pk, src, dst in cur.fetchall():
                self.current.setdefault(src, set()).add(dst)
                self.row_ids[(src, dst)] = pk

    def differs(self, owner_id, wanted) -> bool:
        return set(wanted) != self.current.get(owner_id, set())

    def set(self, owner_id, wanted, *, new=False):
        current = set() if new else self.current.get(owner_id, set())
        for dst in wanted:
            if dst not in current:
                self.add.append((owner_id, dst))
        for dst in current - set(wanted):
            self.remove.append(self.row_ids[(owner_id, dst)])

    def write(self):
        with connection.cursor() as cur:
            if self.remove:
                cur.execute(f"DELETE FROM {self.table} WHERE id = ANY(%s)", [self.remove])
            if self.add:
                cur.execute(
                    f"INSERT INTO {self.table} ({self.src}, {self.dst}) "
                    "SELECT * FROM unnest(%s::bigint[], %s::bigint[])",
                    [[a for a, _ in self.add], [b for _, b in self.add]],
                )


def apply_values(obj, values: dict) -> set[str]:
    """Set the values on ``obj``; the attnames that changed. Lists (choice
    arrays) compare as sets."""
    changed = set()
    for attname, value in values.items():
        old = getattr(obj, attname)
        if isinstance(value, list) and isinstance(old, list):
            if set(value) == set(old):
                continue
        elif old == value:
            continue
        setattr(obj, attname, value)
        changed.add(attname)
    return changed


# --- organisations -------------------------------------------------------------------


ADDRESS_COLUMNS = {
    "street": ("Straße", "Straße und Hausnummer", "Anschrift", "Adresse"),
    "postal_code": ("PLZ", "Postleitzahl"),
    "city": ("Ort", "Stadt"),
}


class OrganizationIndex:
    """Every organisation's name, register number and parent (one query), with
    lookups by register number and by name."""

    def __init__(self):
        self.info, self.by_reg, self.by_name, self.by_loose_name = {}, defaultdict(list), defaultdict(list), defaultdict(list)
        for pk, name, reg, parent_id in Organization.objects.order_by("pk").values_list(
            "pk", "name", "register_number", "parent_id"
        ):
            self.info[pk] = (name, reg, parent_id)
            if reg.strip():
                self.by_reg[loose(reg)].append(pk)
            self.by_name[squash(name)].append(pk)
            self.by_loose_name[loose(name)].append(pk)

    def has_register_number(self, pk) -> bool:
        return bool(self.info[pk][1].strip())


@dataclass
class OrganizationRow(Row):
    name: str = ""
    register_number: str = ""
    parent: str | None = None  # the reference in the file (None: column absent, "": no parent)
    node: tuple = ()  # ("db", pk) for a stored organisation, ("row", index) for a new one
    parent_node: tuple | None = None


class OrganizationImporter(TableImporter):
    """Organisations (providers, schools, churches …), columns
    ``name,kind,umbrella,legal_form,register_number,parent,description,email,
    phone,website,street,postal_code,city,regions``. An organisation is found by
    its register number, else by its exact name; ``parent`` names an
    organisation (name or register number) in the database or in the file."""

    kind = "organizations"
    label = "Organisationen (Träger, Schulen, …) (CSV/XLSX)"
    model = Organization
    COLUMNS = {
        "name": ("Name", "Organisation"),
        "kind": ("Art", "Typ"),
        "umbrella": ("Dachverband", "Spitzenverband"),
        "legal_form": ("Rechtsform",),
        "register_number": ("Registernummer", "Register-Nr", "Vereinsregisternummer"),
        "parent": ("übergeordnete Organisation", "parent_organization", "Träger"),
        "description": ("Beschreibung",),
        "email": ("E-Mail", "Mail"),
        "phone": ("Telefon", "Tel"),
        "website": ("Website", "Webseite", "Internet", "URL"),
        **ADDRESS_COLUMNS,
        "regions": ("aktiv in", "Räume", "Sozialräume", "Regionen"),
    }
    REQUIRED = ("name",)

    def run(self, source) -> dict:
        self.regions = RegionCodes()
        return super().run(source)

    def read_row(self, line, cells):
        row = OrganizationRow(line=line)
        self.text(row, cells, "name", required=True, blankable=False)
        row.name = squash(row.values.get("name", ""))
        if row.name:
            row.values["name"] = row.name
        self.text(row, cells, "register_number")
        # an empty register number never clears a stored one (it is how rows are matched)
        row.register_number = squash(row.values.pop("register_number", ""))
        self.choice(row, cells, "kind", KINDS, OrganizationKind.PROVIDER)
        self.choice(row, cells, "umbrella", UMBRELLAS, Umbrella.NONE)
        self.choice(row, cells, "legal_form", LEGAL_FORMS, "")
        for column in ("description", "email", "phone", "website", "street", "postal_code", "city"):
            self.text(row, cells, column)
        if "parent" in cells:
            row.parent = "" if cells["parent"] in BLANK_SYMBOLS else squash(cells["parent"])
        self.region_list(row, cells, "regions", self.regions)
        return row

    def process(self, rows: list[OrganizationRow]) -> dict:
        index = OrganizationIndex()
        self._match(rows, index)
        self._parents(rows, index)
        self.reject_if_errors()
        return self._write(rows)

    def _match(self, rows, index):
        """Which organisation each row is; duplicates and permissions."""
        changeable = self.changeable_organization_ids()
        may_add = self.user is None or Organization.objects.can_add(self.user)
        seen: dict[tuple, int] = {}
        for i, row in enumerate(rows):
            if not row.name:
                continue
            if row.register_number:
                hits = index.by_reg.get(loose(row.register_number), [])
                if len(hits) > 1:
                    self.error(row.line, "register_number",
                               f"Registernummer {row.register_number!r} haben {len(hits)} Organisationen")
                    continue
                if not hits:  # a stored organisation that gets its register number now
                    hits = [pk for pk in index.by_name.get(row.name, []) if not index.has_register_number(pk)]
            else:
                hits = index.by_name.get(row.name, [])
            if len(hits) > 1:
                self.error(row.line, "name", f"Name {row.name!r} ist nicht eindeutig ({len(hits)} Organisationen) "
                                             "– bitte die Registernummer angeben")
                continue
            if hits:
                row.node = key = ("db", hits[0])
            else:
                row.node = ("row", i)
                key = ("reg", loose(row.register_number)) if row.register_number else ("name", row.name)
            if key in seen:
                self.error(row.line, "name", f"dieselbe Organisation steht schon in Zeile {seen[key]}")
                row.node = ()
                continue
            seen[key] = row.line
            if not hits and not may_add:
                self.error(row.line, "name", "keine Berechtigung, Organisationen anzulegen")
            elif hits and changeable is not None and hits[0] not in changeable:
                self.error(row.line, "name", f"{row.name}: keine Berechtigung für diese Organisation")

    def _parents(self, rows, index):
        """Resolve ``parent`` (register number, then name; in the file, then in
        the database) and refuse cycles in the resulting tree."""
        file_reg, file_name = {}, defaultdict(set)
        for row in rows:
            if row.node:
                if row.register_number:
                    file_reg[loose(row.register_number)] = row.node
                file_name[row.name].add(row.node)
        final_parent = {("db", pk): ("db", parent) if parent else None for pk, (_, _, parent) in index.info.items()}
        for row in rows:
            if not row.node or row.parent is None:
                continue
            if row.parent:
                row.parent_node = self._resolve_parent(row, file_reg, file_name, index)
                if row.parent_node is None:
                    continue
                if row.parent_node == row.node:
                    self.error(row.line, "parent", "Eine Organisation kann nicht ihre eigene übergeordnete sein.")
                    row.parent_node = None
                    continue
            final_parent[row.node] = row.parent_node
        for row in rows:
            node, steps = row.parent_node, 0
            while node is not None and steps <= len(final_parent):
                if node == row.node:
                    self.error(row.line, "parent", f"Zyklus: {row.parent!r} gehört (auch mittelbar) zu {row.name!r}")
                    break
                node, steps = final_parent.get(node), steps + 1

    def _resolve_parent(self, row, file_reg, file_name, index):
        ref = row.parent
        if loose(ref) in file_reg:
            return file_reg[loose(ref)]
        hits = index.by_reg.get(loose(ref), [])
        if len(hits) == 1:
            return ("db", hits[0])
        nodes = file_name.get(ref) or {("db", pk) for pk in index.by_name.get(ref, [])}
        if len(nodes) == 1 and len(hits) == 0:
            return next(iter(nodes))
        if nodes or hits:
            self.error(row.line, "parent", f"übergeordnete Organisation {ref!r} ist nicht eindeutig – bitte die "
                                           "Registernummer angeben")
        else:
            self.error(row.line, "parent", f"übergeordnete Organisation {ref!r} gibt es weder in der Datei noch in "
                                           "der Datenbank (Name oder Registernummer)")
        return None

    def _write(self, rows: list[OrganizationRow]) -> dict:
        now, user = timezone.now(), self.user
        regions = ManyToMany(Organization, "regions")
        stored_ids = [row.node[1] for row in rows if row.node[0] == "db"]
        if "regions" in self.idx:
            regions.load(stored_ids)
        pk_of = {row.node: row.node[1] for row in rows if row.node[0] == "db"}
        by_node = {row.node: row for row in rows}
        depth: dict[tuple, int] = {}

        def node_pk(node):
            if node is None:
                return None
            return node[1] if node[0] == "db" else pk_of[node]

        def depth_of(node):
            if node not in depth:
                parent = by_node[node].parent_node
                depth[node] = depth_of(parent) + 1 if parent is not None and parent[0] == "row" else 0
            return depth[node]

        # new organisations, parents before their branches
        new_rows = [row for row in rows if row.node[0] == "row"]
        for level in sorted({depth_of(row.node) for row in new_rows}):
            level_rows = [row for row in new_rows if depth[row.node] == level]
            batch = []
            for row in level_rows:
                org = Organization(**row.values, register_number=row.register_number, created_by=user,
                                   updated_by=user)
                org.parent_id = node_pk(row.parent_node)
                batch.append(org)
            Organization.objects.bulk_create(batch, batch_size=BATCH)
            for org, row in zip(batch, level_rows, strict=True):
                pk_of[row.node] = org.pk
                if "regions" in row.lists:
                    regions.set(org.pk, row.lists["regions"], new=True)

        # changes of stored ones
        objects = Organization.objects.in_bulk(stored_ids)
        to_update, fields = [], set()
        for row in rows:
            if row.node[0] != "db":
                continue
            org = objects[row.node[1]]
            values = dict(row.values)
            if row.register_number:
                values["register_number"] = row.register_number
            if row.parent is not None:
                values["parent_id"] = node_pk(row.parent_node)
            changed = apply_values(org, values)
            if "regions" in row.lists and regions.differs(org.pk, row.lists["regions"]):
                regions.set(org.pk, row.lists["regions"])
                changed.add("regions")
            if changed:
                fields |= changed - {"regions"}
                org.updated_at, org.updated_by = now, user
                to_update.append(org)
        if to_update:
            Organization.objects.bulk_update(to_update, sorted(fields | {"updated_at", "updated_by"}),
                                             batch_size=BATCH)
        regions.write()
        return {"created": len(new_rows), "updated": len(to_update),
                "unchanged": len(rows) - len(new_rows) - len(to_update), "total": len(rows)}


# --- service offerings ---------------------------------------------------------------


@dataclass
class LocationSpec:
    street: str
    postal_code: str
    city: str
    latitude: Decimal | None
    longitude: Decimal | None
    name: str | None  # None: column absent or empty


@dataclass
class LocationEntry:
    """One address of an organisation named in the file."""

    location: Location | None  # stored, or None until created
    line: int  # first line naming it
    spec: LocationSpec
    point_line: int | None = None  # the first line giving coordinates
    point: tuple | None = None  # (latitude, longitude)


@dataclass
class ServiceRow(Row):
    organization: str = ""
    name: str = ""
    organization_id: int | None = None
    location: LocationSpec | None = None  # None: no address in the row
    location_key: tuple | None = None


LOCATION_COLUMNS = ("location_name", "street", "postal_code", "city", "latitude", "longitude")
CHOICE_LISTS = {"legal_bases": LEGAL_BASES, "languages": LANGUAGES, "accessibility": ACCESSIBILITY,
                "access_modes": ACCESS_MODES}


class ServiceImporter(TableImporter):
    """Service offerings (Angebote), columns ``organization,name,description,
    keywords,fields,setting,work_mode,target_groups,age_min,age_max,
    legal_bases,languages,accessibility,cost,cost_note,access_modes,city_wide,
    regions,location_name,street,postal_code,city,latitude,longitude,
    opening_hours,email,phone,url,capacity,free_places,free_places_reported_at,
    status``. An offering is found by its organisation and exact name; its
    address becomes a location of the organisation (found again by address),
    whose region follows from the coordinates."""

    kind = "services"
    label = "Angebote (CSV/XLSX)"
    model = Service
    COLUMNS = {
        "organization": ("Organisation", "Träger", "Anbieter"),
        "name": ("Name", "Angebot", "Bezeichnung"),
        "description": ("Beschreibung",),
        "keywords": ("Stichworte", "Schlagworte"),
        "fields": ("Handlungsfelder", "Handlungsfeld"),
        "setting": ("Setting", "Form"),
        "work_mode": ("Arbeitsweise",),
        "target_groups": ("Zielgruppen", "Zielgruppe"),
        "age_min": ("Alter von", "Mindestalter"),
        "age_max": ("Alter bis", "Höchstalter"),
        "legal_bases": ("Rechtsgrundlagen", "Rechtsgrundlage"),
        "languages": ("Sprachen",),
        "accessibility": ("Barrierefreiheit",),
        "cost": ("Kosten",),
        "cost_note": ("Hinweis zu den Kosten", "Kostenhinweis"),
        "access_modes": ("Zugang", "Zugangswege"),
        "city_wide": ("stadtweit",),
        "regions": ("versorgte Räume", "Räume", "Sozialräume", "Regionen"),
        "location_name": ("Standort", "Standortname", "Bezeichnung des Standorts"),
        **ADDRESS_COLUMNS,
        "latitude": ("Breitengrad", "Breite", "lat"),
        "longitude": ("Längengrad", "Länge", "lon", "lng"),
        "opening_hours": ("Öffnungszeiten",),
        "email": ("E-Mail", "Mail"),
        "phone": ("Telefon", "Tel"),
        "url": ("Website", "Webseite", "Internet"),
        "capacity": ("Plätze", "Kapazität"),
        "free_places": ("freie Plätze",),
        "free_places_reported_at": ("freie Plätze gemeldet am", "Stand freie Plätze"),
        "status": ("Status",),
    }
    REQUIRED = ("organization", "name")

    def run(self, source) -> dict:
        self.regions = RegionCodes()
        self.fields_of_action = NamedLookup(FieldOfAction, "Handlungsfelder")
        self.target_groups = NamedLookup(TargetGroup, "Zielgruppen")
        return super().run(source)

    # -- reading ---------------------------------------------------------------------

    def read_row(self, line, cells):
        row = ServiceRow(line=line)
        row.organization = squash(cells.get("organization", ""))
        if not row.organization:
            self.error(line, "organization", "Organisation fehlt (Name oder Registernummer)")
        self.text(row, cells, "name", required=True, blankable=False)
        row.name = squash(row.values.get("name", ""))
        if row.name:
            row.values["name"] = row.name
        for column in ("description", "keywords", "cost_note", "opening_hours", "email", "phone", "url"):
            self.text(row, cells, column)
        self.choice(row, cells, "setting", SETTINGS, Setting.AMBULANT)
        self.choice(row, cells, "work_mode", WORK_MODES, WorkMode.CASE_SPECIFIC)
        self.choice(row, cells, "cost", COSTS, Cost.FREE)
        self.choice(row, cells, "status", STATUSES, ServiceStatus.ACTIVE)
        for column, choices in CHOICE_LISTS.items():
            self.choice_list(row, cells, column, choices)
        for column, maximum in (("age_min", MAX_AGE), ("age_max", MAX_AGE), ("capacity", MAX_INT),
                                ("free_places", MAX_INT)):
            if column in cells:
                value = self.integer(line, column, cells[column], maximum)
                if value is not _BAD:
                    row.values[column] = value
        if "free_places_reported_at" in cells:
            value = self.date(line, "free_places_reported_at", cells["free_places_reported_at"])
            if value is not _BAD:
                row.values["free_places_reported_at"] = value
        if "city_wide" in cells:
            value = self.boolean(line, "city_wide", cells["city_wide"])
            if value is not _BAD:
                row.values["city_wide"] = value
        self.id_list(row, cells, "fields", self.fields_of_action)
        self.id_list(row, cells, "target_groups", self.target_groups)
        self.region_list(row, cells, "regions", self.regions)
        self._read_location(row, cells)
        return row

    def _read_location(self, row, cells):
        if not any(c in cells for c in LOCATION_COLUMNS):
            return
        line = row.line
        address = {}
        for column in ("street", "postal_code", "city"):
            text = cells.get(column, "")
            address[column] = "" if text in BLANK_SYMBOLS else squash(text)
        lat = self.coordinate(line, "latitude", cells.get("latitude", ""), 90)
        lon = self.coordinate(line, "longitude", cells.get("longitude", ""), 180)
        name = squash(cells.get("location_name", ""))
        if name in BLANK_SYMBOLS:
            name = ""
        if not any(address.values()) and lat is None and lon is None and not name:
            row.lists["locations"] = []  # the columns are there, this offering has no address
            return
        for column, label in (("street", "Straße"), ("postal_code", "PLZ"), ("city", "Ort")):
            if not address[column]:
                self.error(line, column, f"{label} fehlt (für den Standort nötig)")
                continue
            try:
                Location._meta.get_field(column).run_validators(address[column])
            except ValidationError as e:
                self.error(line, column, f"{address[column]!r}: {' '.join(e.messages)}")
        if name:
            try:
                Location._meta.get_field("name").run_validators(name)
            except ValidationError as e:
                self.error(line, "location_name", " ".join(e.messages))
        if _BAD in (lat, lon):
            return
        if (lat is None) != (lon is None):
            self.error(line, "latitude" if lat is None else "longitude",
                       "Bitte Breiten- und Längengrad angeben oder beide leer lassen.")
            return
        row.location = LocationSpec(address["street"], address["postal_code"], address["city"], lat, lon,
                                    name or None)

    # -- matching and checks ---------------------------------------------------------

    def process(self, rows: list[ServiceRow]) -> dict:
        index = OrganizationIndex()
        changeable = self.changeable_organization_ids()
        found: dict[str, tuple[int | None, str]] = {}
        for row in rows:
            if not row.organization:
                continue
            if row.organization not in found:
                found[row.organization] = self._organization(row.organization, index)
            pk, message = found[row.organization]
            if pk is None:
                self.error(row.line, "organization", message)
            elif changeable is not None and pk not in changeable:
                self.error(row.line, "organization", f"{row.organization}: keine Berechtigung für diese Organisation")
            else:
                row.organization_id = pk
        rows = [row for row in rows if row.organization_id is not None and row.name]
        org_ids = {row.organization_id for row in rows}

        stored: dict[tuple, list[Service]] = defaultdict(list)
        for service in Service.objects.filter(organization_id__in=org_ids).defer("search").order_by("pk"):
            stored[(service.organization_id, squash(service.name))].append(service)
        seen: dict[tuple, int] = {}
        matched: dict[int, Service | None] = {}
        for row in rows:
            key = (row.organization_id, row.name)
            if key in seen:
                self.error(row.line, "name", f"dasselbe Angebot steht schon in Zeile {seen[key]}")
                continue
            seen[key] = row.line
            hits = stored.get(key, [])
            if len(hits) > 1:
                self.error(row.line, "name", f"{row.name!r}: die Organisation hat {len(hits)} Angebote dieses "
                                             "Namens – bitte zuerst zusammenführen oder umbenennen")
                continue
            matched[row.line] = hits[0] if hits else None
        rows = [row for row in rows if row.line in matched]

        m2m = {name: ManyToMany(Service, name) for name in ("fields", "target_groups", "regions", "locations")}
        stored_ids = [s.pk for s in matched.values() if s is not None]
        for name, rel in m2m.items():
            if name in self.idx or (name == "locations" and self.has(*LOCATION_COLUMNS)):
                rel.load(stored_ids)
        locations = self._match_locations(rows, org_ids)
        for row in rows:
            self._check(row, matched[row.line], m2m["fields"])
        self.reject_if_errors()
        return self._write(rows, matched, m2m, locations)

    def _organization(self, ref, index) -> tuple[int | None, str]:
        for hits in (index.by_reg.get(loose(ref), []), index.by_name.get(ref, []),
                     index.by_loose_name.get(loose(ref), [])):
            if len(hits) == 1:
                return hits[0], ""
            if len(hits) > 1:
                return None, (f"Organisation {ref!r} ist nicht eindeutig ({len(hits)} Treffer) – bitte die "
                              "Registernummer angeben")
        return None, (f"unbekannte Organisation {ref!r} (Name oder Registernummer einer vorhandenen Organisation; "
                      "neue zuerst als Organisationen importieren)")

    def _check(self, row, service, fields_rel):
        """The model's constraints, on the row merged with the stored offering."""
        def final(attname):
            if attname in row.values:
                return row.values[attname]
            return getattr(service, attname) if service is not None else None

        line = row.line
        self._check_numbers(line, final)
        if "fields" in row.lists:
            if not row.lists["fields"] and service is None:
                self.error(line, "fields", "Handlungsfeld fehlt (ein neues Angebot braucht mindestens eines)")
            current = fields_rel.current.get(service.pk, set()) if service is not None else set()
            inactive = [self.fields_of_action.names[pk] for pk in row.lists["fields"]
                        if pk in self.fields_of_action.inactive and pk not in current]
            if inactive:
                self.error(line, "fields", f"Handlungsfeld {', '.join(inactive)} ist inaktiv")
        elif service is None and "fields" not in self.idx:
            self.error(line, "fields", "Handlungsfeld fehlt: ein neues Angebot braucht die Spalte fields "
                                       "(Schlüssel oder Name, mehrere mit | getrennt)")

    def _check_numbers(self, line, final):
        if any((line, c) in self.bad_cells for c in ("age_min", "age_max", "capacity", "free_places",
                                                      "free_places_reported_at")):
            return  # reported already; the merged values are incomplete
        age_min, age_max = final("age_min"), final("age_max")
        if age_min is not None and age_max is not None and age_min > age_max:
            self.error(line, "age_max", f"„Alter bis“ ({age_max}) liegt unter „Alter von“ ({age_min}).")
        capacity, free, reported = final("capacity"), final("free_places"), final("free_places_reported_at")
        if capacity is not None and free is not None and free > capacity:
            self.error(line, "free_places", f"Es gibt mehr freie Plätze ({free}) als Plätze ({capacity}).")
        if free is not None and reported is None:
            self.error(line, "free_places_reported_at", "Bitte angeben, wann die freien Plätze gemeldet wurden.")
        if reported is not None and reported > timezone.localdate():
            self.error(line, "free_places_reported_at", f"Das Datum {reported:%d.%m.%Y} liegt in der Zukunft.")

    def _match_locations(self, rows, org_ids) -> dict[tuple, LocationEntry]:
        """The addresses named in the file, matched to the organisations'
        stored locations; sets ``row.location_key``."""
        if not any(row.location for row in rows):
            return {}
        stored = {}
        for loc in Location.objects.filter(organization_id__in=org_ids).order_by("pk"):
            stored.setdefault(address_key(loc.organization_id, loc.street, loc.postal_code, loc.city), loc)
        entries: dict[tuple, LocationEntry] = {}
        for row in rows:
            spec = row.location
            if spec is None:
                continue
            key = row.location_key = address_key(row.organization_id, spec.street, spec.postal_code, spec.city)
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = LocationEntry(stored.get(key), row.line, spec)
            if spec.latitude is not None:
                point = (spec.latitude, spec.longitude)
                if entry.point is None:
                    entry.point, entry.point_line = point, row.line
                elif entry.point != point:
                    self.error(row.line, "latitude", f"andere Koordinaten für dieselbe Adresse als in Zeile "
                                                     f"{entry.point_line}")
            if spec.name and not entry.spec.name:
                entry.spec = spec
        return entries

    # -- writing ---------------------------------------------------------------------

    def _write(self, rows, matched, m2m, locations) -> dict:
        now, user = timezone.now(), self.user
        loc_created, loc_updated = self._write_locations(locations, now, user)

        new_rows = [row for row in rows if matched[row.line] is None]
        batch = [Service(organization_id=row.organization_id, **row.values, created_by=user, updated_by=user)
                 for row in new_rows]
        Service.objects.bulk_create(batch, batch_size=BATCH)
        for service, row in zip(batch, new_rows, strict=True):
            self._set_lists(row, service.pk, m2m, locations, new=True)

        to_update, fields = [], set()
        for row in rows:
            service = matched[row.line]
            if service is None:
                continue
            changed = apply_values(service, row.values)
            if self._set_lists(row, service.pk, m2m, locations):
                changed.add("m2m")
            if changed:
                fields |= changed - {"m2m"}
                service.updated_at, service.updated_by = now, user
                to_update.append(service)
        if to_update:
            Service.objects.bulk_update(to_update, sorted(fields | {"updated_at", "updated_by"}), batch_size=BATCH)
        for rel in m2m.values():
            rel.write()
        return {"created": len(new_rows), "updated": len(to_update),
                "unchanged": len(rows) - len(new_rows) - len(to_update), "total": len(rows),
                "locations_created": loc_created, "locations_updated": loc_updated}

    def _set_lists(self, row, pk, m2m, locations, new=False) -> bool:
        lists = dict(row.lists)
        if row.location_key is not None:
            lists["locations"] = [locations[row.location_key].location.pk]
        changed = False
        for name, wanted in lists.items():
            if new or m2m[name].differs(pk, wanted):
                m2m[name].set(pk, wanted, new=new)
                changed = True
        return changed

    def _write_locations(self, entries: dict[tuple, LocationEntry], now, user) -> tuple[int, int]:
        """Create the new locations and update the stored ones whose name or
        point changed; regions from the points in one pass."""
        new, changed, located = [], [], []
        for (org_id, *_), entry in entries.items():
            spec, loc = entry.spec, entry.location
            if loc is None:
                loc = entry.location = Location(
                    organization_id=org_id, street=spec.street, postal_code=spec.postal_code, city=spec.city,
                    name=spec.name or "", created_by=user, updated_by=user,
                )
                new.append(loc)
            else:
                dirty = bool(spec.name) and loc.name != spec.name
                if dirty:
                    loc.name = spec.name
                if entry.point is not None and (loc.latitude, loc.longitude) != entry.point:
                    dirty = True
                else:
                    entry.point = None  # unchanged: the stored region stays
                if not dirty:
                    continue
                loc.updated_at, loc.updated_by = now, user
                changed.append(loc)
            if entry.point is not None:
                loc.latitude, loc.longitude = entry.point
                located.append(loc)
        if located:
            regions = RegionLocator().locate([(loc.longitude, loc.latitude) for loc in located])
            for loc, region_id in zip(located, regions, strict=True):
                loc.region_id = region_id
        Location.objects.bulk_create(new, batch_size=BATCH)
        if changed:
            Location.objects.bulk_update(
                changed, ["name", "latitude", "longitude", "region", "updated_at", "updated_by"], batch_size=BATCH
            )
        return len(new), len(changed)


def address_key(org_id, street, postal_code, city) -> tuple:
    """An organisation's address, spelled loosely ("Musterstr. 1" = "Musterstraße 1")."""
    return (org_id, re.sub(r"str(asse|\.)", "str", loose(street)), postal_code.strip(), loose(city))


class NamedLookup:
    """Key or name (case-insensitive, unambiguous) → id of a catalogue entry
    (fields of action, target groups)."""

    hint = ""

    def __init__(self, model, what):
        self.what = what
        self.map, self.names, self.inactive = {}, {}, set()
        by_name = defaultdict(set)
        has_active = any(f.name == "active" for f in model._meta.get_fields())
        columns = ("pk", "key", "name", "active") if has_active else ("pk", "key", "name")
        for pk, key, name, *active in model.objects.values_list(*columns):
            self.map[key.casefold()] = pk
            by_name[loose(name)].add(pk)
            self.names[pk] = name
            if active and not active[0]:
                self.inactive.add(pk)
        for name, pks in by_name.items():
            if len(pks) == 1:
                self.map.setdefault(name, next(iter(pks)))

    def get(self, text):
        return self.map.get(text.casefold()) or self.map.get(loose(text))
