"""Imports of regions, boundaries and indicator values from real files.

Management commands, the upload page and the API all call these through
``core.imports`` (one code path). Options may name a *profile* (a JSON file in
``regions/profiles/``) that holds the column mapping for a known file format,
e.g. ``berlin-lor`` for Berlin's LOR hierarchy.
"""

import io
import json
from decimal import Decimal
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from core.access import Action, Role
from core.imports.base import Importer
from core.imports.parsing import CellError, is_missing, parse_decimal, parse_period
from core.imports.reader import open_table, open_text_table

from . import rollup
from .access import is_unscoped
from .geo import GeometryError
from .models import Indicator, IndicatorValue, Region, RegionLevel, rebuild_paths
from .services import recompute_rollups_below
from .signals import indicator_values_changed, regions_changed

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
COPY_BATCH = 50_000


def load_profile(name: str) -> dict:
    path = PROFILES_DIR / f"{name}.json"
    if not path.is_file() or "/" in name or "\\" in name:
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.json")))
        raise ValueError(f"Unbekanntes Profil {name!r} (bekannt: {known})")
    return json.loads(path.read_text(encoding="utf-8"))


def profiles_for(kind: str) -> list[tuple[str, str]]:
    out = []
    for p in sorted(PROFILES_DIR.glob("*.json")):
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("kind") == kind:
            out.append((p.stem, data.get("label", p.stem)))
    return out


class ProfileImporter(Importer):
    """Merges a named profile under the explicit options."""

    @classmethod
    def profiles(cls) -> list[tuple[str, str]]:
        return profiles_for(cls.kind)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        name = self.options.get("profile")
        if name:
            self.options = {**load_profile(name), **{k: v for k, v in self.options.items() if k != "profile"}}

    def _open(self, source):
        if isinstance(source, str) and "\n" in source:
            table = open_text_table(source, delimiter=self.options.get("delimiter"))
        else:
            table = open_table(source, delimiter=self.options.get("delimiter"), encoding=self.options.get("encoding"))
        # XLSX number cells arrive as Python numbers ("2.5"), whatever the CSV
        # decimal separator option says.
        self.decimal = None if table.encoding == "xlsx" else self.options.get("decimal")
        return table

    def _column_index(self, header, wanted: str, *, role: str):
        """Index of column ``wanted`` (exact, then case-insensitive); records a
        file-level error naming the column if absent."""
        if wanted in header:
            return header.index(wanted)
        lowered = [h.lower() for h in header]
        if wanted.lower() in lowered:
            return lowered.index(wanted.lower())
        self.errors.add(1, f"Spalte „{wanted}“ ({role}) fehlt. Vorhandene Spalten: {', '.join(header)}")
        return None


def _cell(cells, idx) -> str:
    return cells[idx].strip() if idx is not None and idx < len(cells) else ""


# --- Regions --------------------------------------------------------------------


class RegionImporter(ProfileImporter):
    """Regions from CSV/XLSX.

    Canonical columns ``code,name,parent_code,level`` (``columns`` maps other
    names); or a ``hierarchy`` of levels per row (one file row holds a
    Planungsraum and all regions above it, as in Berlin's LOR file).
    """

    kind = "regions"
    label = "Räume (CSV/XLSX)"
    option_help = {
        "profile": "Profil für ein bekanntes Dateiformat, z. B. berlin-lor",
        "columns": "Spaltenzuordnung, z. B. {\"code\": \"Schlüssel\", \"name\": \"Bezeichnung\"}",
        "root": "übergeordneter Raum der obersten Ebene (Schlüssel)",
    }

    def run(self, source) -> dict:
        self._ensure_levels()
        levels = {lv.key: lv for lv in RegionLevel.objects.all()}
        levels_by_name = {lv.name.lower(): lv for lv in levels.values()}
        table = self._open(source)
        try:
            if self.options.get("hierarchy"):
                rows = self._rows_hierarchy(table, levels)
            else:
                rows = self._rows_canonical(table, levels, levels_by_name)
            found = self._collect(rows)
        finally:
            table.close()
        if self.errors and not found:
            self.reject_if_errors()
        # _write validates parents, levels, cycles and permissions of the rows that
        # were readable and rejects with every error of the file at once.
        return self._write(found, levels)

    def _ensure_levels(self):
        if self.user is not None and not is_unscoped(self.user, Role.PLANNER):
            missing_levels = [
                spec["key"] for spec in self.options.get("levels", [])
                if not RegionLevel.objects.filter(key=spec["key"]).exists()
            ]
            root = self.options.get("root")
            if missing_levels or (isinstance(root, dict) and not Region.objects.filter(code=root["code"]).exists()):
                self.errors.add(None, "Ebenen und oberste Räume darf nur die Planung ohne Raumbeschränkung anlegen")
                return
        for spec in self.options.get("levels", []):
            level, created = RegionLevel.objects.get_or_create(
                key=spec["key"],
                defaults={"name": spec["name"], "name_plural": spec.get("name_plural", ""), "rank": spec["rank"]},
            )
            if not created and level.rank != spec["rank"]:
                self.errors.add(None, f"Ebene „{level.key}“ hat Rang {level.rank}, das Profil erwartet {spec['rank']}.")
        root = self.options.get("root")
        if isinstance(root, dict) and not Region.objects.filter(code=root["code"]).exists():
            region = Region(code=root["code"], name=root["name"], level=RegionLevel.objects.get(key=root["level"]))
            region.stamp(self.user)
            region.save()

    def _root_code(self):
        root = self.options.get("root")
        return root["code"] if isinstance(root, dict) else root

    def _rows_canonical(self, table, levels, levels_by_name):
        cols = {"code": "code", "name": "name", "parent_code": "parent_code", "level": "level"}
        cols.update(self.options.get("columns", {}))
        idx = {k: self._column_index(table.header, v, role=k) for k, v in cols.items() if k != "area_m2"}
        area_idx = None
        if "area_m2" in cols:
            area_idx = self._column_index(table.header, cols["area_m2"], role="area_m2")
        if self.errors:
            return
        for line, cells in table.rows:
            level_text = _cell(cells, idx["level"])
            level = levels.get(level_text) or levels_by_name.get(level_text.lower())
            if level is None:
                self.errors.add(
                    line, f"unbekannte Ebene {level_text!r} (bekannt: {', '.join(levels)})", cols["level"]
                )
                continue
            parent = _cell(cells, idx["parent_code"]) or self._root_code()
            yield line, _cell(cells, idx["code"]), _cell(cells, idx["name"]), level, parent, self._area(
                line, cells, area_idx, cols.get("area_m2")
            )

    def _rows_hierarchy(self, table, levels):
        specs = []
        for spec in self.options["hierarchy"]:
            if spec["level"] not in levels:
                self.errors.add(None, f"Profil nennt unbekannte Ebene {spec['level']!r}")
                continue
            specs.append(
                (
                    levels[spec["level"]],
                    self._column_index(table.header, spec["code_column"], role="Schlüssel"),
                    spec.get("code_length"),
                    self._column_index(table.header, spec["name_column"], role="Name"),
                    self._column_index(table.header, spec["area_column"], role="Fläche")
                    if spec.get("area_column") else None,
                    spec.get("area_column"),
                )
            )
        if self.errors:
            return
        for line, cells in table.rows:
            parent = self._root_code()
            for level, code_idx, code_len, name_idx, area_idx, area_col in specs:
                code = _cell(cells, code_idx)
                if code_len:
                    code = code[:code_len]
                yield line, code, _cell(cells, name_idx), level, parent, self._area(line, cells, area_idx, area_col)
                parent = code

    def _area(self, line, cells, idx, column):
        if idx is None or is_missing(_cell(cells, idx)):
            return None
        try:
            return parse_decimal(_cell(cells, idx), self.decimal).quantize(Decimal("0.01"))
        except CellError as e:
            self.errors.add(line, str(e), column)
            return None

    def _collect(self, rows) -> dict:
        """code → dict(name, level, parent, area, line); the same region repeated
        on several rows (hierarchy files) must agree with itself."""
        found: dict[str, dict] = {}
        for line, code, name, level, parent, area in rows:
            if not code:
                self.errors.add(line, f"Schlüssel für Ebene {level.name} fehlt")
                continue
            if len(code) > 40:
                self.errors.add(line, f"Schlüssel {code!r} ist länger als 40 Zeichen")
                continue
            if not name:
                self.errors.add(line, f"Name für {level.name} {code} fehlt")
                continue
            seen = found.get(code)
            if seen is None:
                found[code] = {"name": name, "level": level, "parent": parent, "area": area, "line": line}
                continue
            for what, new, old in (
                ("Name", name, seen["name"]), ("Ebene", level, seen["level"]), ("übergeordneter Raum", parent, seen["parent"])
            ):
                if new != old:
                    self.errors.add(line, f"{code}: {what} {new} widerspricht Zeile {seen['line']} ({old})")
                    break
            if area is not None and seen["area"] is None:
                seen["area"] = area
        return found

    def _write(self, found: dict, levels) -> dict:
        existing = {r.code: r for r in Region.objects.select_related("level")}
        allowed = None
        if self.user is not None:
            allowed = set(Region.objects.for_user(self.user, Action.CHANGE).values_list("code", flat=True))
        # validate parents, levels, cycles
        for code, row in found.items():
            parent = row["parent"]
            if parent and parent not in found and parent not in existing:
                self.errors.add(row["line"], f"übergeordneter Raum {parent!r} von {code} existiert nicht")
                continue
            if parent:
                parent_level = found[parent]["level"] if parent in found else existing[parent].level
                if parent_level.rank >= row["level"].rank:
                    self.errors.add(
                        row["line"],
                        f"Ebene passt nicht: {code} ({row['level'].name}) kann nicht unter {parent} ({parent_level.name}) liegen",
                    )
            if allowed is not None:
                self._check_permission(code, row, found, existing, allowed)
        self._check_cycles(found, existing)
        self.reject_if_errors()

        created = updated = unchanged = 0
        now = timezone.now()
        by_rank = sorted(found.items(), key=lambda kv: kv[1]["level"].rank)
        ids = {code: r.pk for code, r in existing.items()}
        to_update, moved = [], []
        for rank in sorted({row["level"].rank for _, row in by_rank}):
            batch = []
            for code, row in by_rank:
                if row["level"].rank != rank:
                    continue
                parent_id = ids.get(row["parent"]) if row["parent"] else None
                region = existing.get(code)
                if region is None:
                    region = Region(
                        code=code, name=row["name"], level=row["level"], parent_id=parent_id,
                        official_area_m2=row["area"], created_by=self.user, updated_by=self.user,
                    )
                    batch.append(region)
                    continue
                changed = False
                if region.parent_id != parent_id:
                    moved.append(region.pk)
                for attr, value in (("name", row["name"]), ("level_id", row["level"].pk), ("parent_id", parent_id)):
                    if getattr(region, attr) != value:
                        setattr(region, attr, value)
                        changed = True
                if row["area"] is not None and region.official_area_m2 != row["area"]:
                    region.official_area_m2 = row["area"]
                    changed = True
                if changed:
                    region.updated_by, region.updated_at = self.user, now
                    to_update.append(region)
                else:
                    unchanged += 1
            Region.objects.bulk_create(batch, batch_size=2000)
            for r in batch:
                ids[r.code] = r.pk
            created += len(batch)
        if to_update:
            Region.objects.bulk_update(
                to_update, ["name", "level", "parent", "official_area_m2", "updated_by", "updated_at"], batch_size=2000
            )
            updated = len(to_update)
        rebuild_paths()
        rollups = {}
        if moved:
            rollups = recompute_rollups_below(Region.objects.filter(pk__in=moved).values_list("path", flat=True))
        if created or updated:
            transaction.on_commit(lambda: regions_changed.send(sender=Region))
        return {"created": created, "updated": updated, "unchanged": unchanged, "total": len(found), "moved": len(moved),
                **rollups}

    def _check_permission(self, code, row, found, existing, allowed):
        """An existing region must be the user's to change; a region's (new)
        position must lie in the user's subtree: its nearest ancestor that already
        exists must be changeable, and new top-level regions need an unrestricted
        planner."""
        if code in existing and code not in allowed:
            self.errors.add(row["line"], f"{code}: keine Berechtigung für diesen Raum")
            return
        anchor, seen = row["parent"], set()
        while anchor and anchor not in existing and anchor in found and anchor not in seen:
            seen.add(anchor)
            anchor = found[anchor]["parent"]
        if not anchor:
            if not is_unscoped(self.user, Role.PLANNER):
                self.errors.add(row["line"], f"{code}: oberste Räume darf nur die Planung ohne Raumbeschränkung anlegen")
        elif anchor not in allowed:
            self.errors.add(row["line"], f"{code}: keine Berechtigung für den übergeordneten Raum {anchor}")

    def _check_cycles(self, found, existing):
        code_of = {r.pk: c for c, r in existing.items()}

        def parent_of(code):
            if code in found:
                return found[code]["parent"] or None
            region = existing.get(code)
            return code_of.get(region.parent_id) if region is not None else None

        for code, row in found.items():
            seen = {code}
            cur = parent_of(code)
            while cur:
                if cur in seen:
                    self.errors.add(row["line"], f"Zyklus: {code} liegt (indirekt) unter sich selbst")
                    break
                seen.add(cur)
                cur = parent_of(cur)


# --- Boundaries -----------------------------------------------------------------

ACCEPTED_CRS = {
    "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4326",
}


class BoundaryImporter(ProfileImporter):
    """Boundaries from a GeoJSON FeatureCollection (WGS84), matched to regions by a
    code property (``match=code``) or by name (``match=name``), optionally within
    one ``level``."""

    kind = "boundaries"
    label = "Grenzen (GeoJSON)"
    option_help = {
        "match": "code oder name",
        "property": "Eigenschaft der Features mit Schlüssel bzw. Name",
        "level": "nur Räume dieser Ebene (Schlüssel der Ebene)",
    }

    def run(self, source) -> dict:
        data = self._load(source)
        self.reject_if_errors()
        match = self.options.get("match", "code")
        prop = self.options.get("property", "code" if match == "code" else "name")
        regions = Region.objects.all()
        if self.options.get("level"):
            regions = regions.filter(level__key=self.options["level"])
        if self.user is not None:
            regions = regions.filter(pk__in=Region.objects.for_user(self.user, Action.CHANGE).values("pk"))
        if match == "name":
            index: dict[str, list[Region]] = {}
            for r in regions:
                index.setdefault(r.name.strip().lower(), []).append(r)
        else:
            index = {r.code: [r] for r in regions}

        updates = {}
        for n, feature in enumerate(data.get("features", []), start=1):
            props = feature.get("properties") or {}
            key = props.get(prop)
            if key is None:
                self.errors.add(n, f"Feature {n}: Eigenschaft „{prop}“ fehlt", prop)
                continue
            key = str(key).strip()
            hits = index.get(key.lower() if match == "name" else key, [])
            if not hits:
                self.errors.add(n, f"Feature {n}: kein Raum mit {('Name' if match == 'name' else 'Schlüssel')} {key!r}", prop)
                continue
            if len(hits) > 1:
                self.errors.add(n, f"Feature {n}: Name {key!r} ist mehrdeutig – bitte Ebene angeben", prop)
                continue
            region = hits[0]
            if region.pk in updates:
                self.errors.add(n, f"Feature {n}: {region.code} kommt zweimal vor (zuerst Feature {updates[region.pk][0]})", prop)
                continue
            try:
                info = region.set_boundary(feature.get("geometry"))
            except GeometryError as e:
                self.errors.add(n, f"Feature {n} ({key}): {e}", "geometry")
                continue
            updates[region.pk] = (n, region, info)
        self.reject_if_errors()

        changed, repaired = [], []
        for n, region, info in updates.values():
            if info.repaired:
                repaired.append(f"Feature {n} ({region.code}): {info.repaired}")
            stored = Region.objects.filter(pk=region.pk).values_list("boundary", flat=True).first()
            if stored != region.boundary:
                region.updated_by = self.user
                region.updated_at = timezone.now()
                changed.append(region)
        Region.objects.bulk_update(
            changed,
            ["boundary", "area_m2", "centroid_lon", "centroid_lat", "bbox_min_lon", "bbox_min_lat", "bbox_max_lon",
             "bbox_max_lat", "updated_by", "updated_at"],
            batch_size=200,
        )
        return {
            "updated": len(changed), "unchanged": len(updates) - len(changed), "total": len(updates),
            "repaired": repaired,
        }

    def _load(self, source) -> dict:
        try:
            if isinstance(source, dict):
                data = source
            else:
                with open(source, "rb") as f:
                    data = json.loads(f.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            line = getattr(e, "lineno", None)
            self.errors.add(line, f"keine gültige GeoJSON-Datei: {e}")
            return {}
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            self.errors.add(None, "GeoJSON muss eine FeatureCollection sein")
            return {}
        crs = data.get("crs")
        if crs is not None:
            name = (crs.get("properties") or {}).get("name", "")
            if name not in ACCEPTED_CRS:
                self.errors.add(None, f"Koordinatensystem {name!r} wird nicht unterstützt; erwartet WGS84 (EPSG:4326)")
        return data


# --- Indicator values -------------------------------------------------------------

LONG_COLUMNS = ("region_code", "indicator", "period", "value")


class IndicatorValueImporter(ProfileImporter):
    """Indicator values from CSV/XLSX, long (``region_code,indicator,period,value``)
    or wide (one column per indicator; ``region_column`` names the code column and
    ``period`` the period). Streams the file into a temporary table with COPY and
    upserts from there, so memory stays bounded at any file size."""

    kind = "indicator_values"
    label = "Indikatorwerte (CSV/XLSX)"
    option_help = {
        "profile": "Profil für ein bekanntes Dateiformat, z. B. berlin-mss-2021",
        "layout": "long oder wide (sonst automatisch erkannt)",
        "region_column": "Spalte mit dem Raumschlüssel (breites Format)",
        "period": "Zeitraum für alle Werte (breites Format), z. B. 2022-06-30",
        "indicator_columns": "Zuordnung Spalte → Indikator-Schlüssel",
        "decimal": "Dezimaltrennzeichen , oder . (sonst automatisch)",
    }

    def run(self, source) -> dict:
        regions = self._region_ids()
        all_indicators = list(Indicator.objects.all())
        indicators = {i.key.lower(): i.pk for i in all_indicators}
        indicator_names = {i.name.lower(): i.pk for i in all_indicators}
        table = None
        if isinstance(source, list):
            rows = self._rows_from_records(source)
        else:
            table = self._open(source)
            rows = self._rows_from_table(table, indicators, indicator_names)
        try:
            self.reject_if_errors()  # header problems: no need to read on
            with connection.cursor() as cur:
                cur.execute(
                    "CREATE TEMP TABLE tmp_indicator_import (line integer, indicator_id bigint, region_id bigint, "
                    "period varchar(10), value numeric(20, 6)) ON COMMIT DROP"
                )
                stats = self._stream(cur, rows, regions, indicators, indicator_names)
                self.reject_if_errors()
                self._check_duplicates(cur)
                self.reject_if_errors()
                result = self._upsert(cur)
                if result["created"] + result["updated"] > 10_000:
                    # Fresh statistics so the roll-up queries are planned for the new size
                    # (autovacuum may have recorded the table as empty mid-import).
                    cur.execute(f"ANALYZE {IndicatorValue._meta.db_table}")
                cur.execute("SELECT DISTINCT indicator_id, period FROM tmp_indicator_import")
                pairs = cur.fetchall()
                cur.execute("DROP TABLE tmp_indicator_import")
        finally:
            if table is not None:
                table.close()
        indicator_ids = sorted({p[0] for p in pairs})
        periods = sorted({p[1] for p in pairs})
        result.update(rollup.recompute(indicator_ids, periods))
        result.update(stats)
        result["periods"] = periods
        result["indicators"] = list(Indicator.objects.filter(pk__in=indicator_ids).values_list("key", flat=True))
        if result["created"] or result["updated"] or result["rollups_written"] or result["rollups_removed"]:
            transaction.on_commit(
                lambda: indicator_values_changed.send(
                    sender=IndicatorValue, indicator_ids=indicator_ids, periods=periods, region_ids=None
                )
            )
        return result

    # -- reading ---------------------------------------------------------------

    def _region_ids(self) -> dict[str, int]:
        qs = Region.objects.all()
        if self.user is not None:
            qs = Region.objects.for_user(self.user, Action.CHANGE)
        self._all_codes = None if self.user is None else set(Region.objects.values_list("code", flat=True))
        return dict(qs.values_list("code", "pk"))

    def _rows_from_records(self, records):
        """API payload: [{"region_code", "indicator", "period", "value"}, …]; line = position + 1."""
        for n, rec in enumerate(records, start=1):
            if not isinstance(rec, dict):
                self.errors.add(n, "Eintrag ist kein Objekt")
                continue
            value = rec.get("value")
            yield n, str(rec.get("region_code", "")), str(rec.get("indicator", "")), str(rec.get("period", "")), (
                "" if value is None else str(value)
            )

    def _rows_from_table(self, table, indicators, indicator_names):
        header = table.header
        cols = {c: c for c in LONG_COLUMNS}
        cols.update(self.options.get("columns", {}))
        layout = self.options.get("layout")
        if layout is None:
            lowered = {h.lower() for h in header}
            layout = "long" if all(c.lower() in lowered for c in cols.values()) else "wide"
        if layout == "long":
            idx = {k: self._column_index(header, v, role=k) for k, v in cols.items()}
            if self.errors:
                return iter(())
            return (
                (line, _cell(c, idx["region_code"]), _cell(c, idx["indicator"]), _cell(c, idx["period"]),
                 _cell(c, idx["value"]))
                for line, c in table.rows
            )
        return self._wide_rows(table, indicators, indicator_names)

    def _wide_rows(self, table, indicators, indicator_names):
        header = table.header
        region_col = self.options.get("region_column")
        if not region_col:
            candidates = [h for h in header if h.lower() in ("region_code", "code", "schlüssel", "schluessel")]
            if not candidates:
                self.errors.add(1, "Spalte mit dem Raumschlüssel unbekannt: bitte region_column angeben")
                return iter(())
            region_col = candidates[0]
        region_idx = self._column_index(header, region_col, role="Raumschlüssel")
        period_text = self.options.get("period")
        period_idx = None
        if self.options.get("period_column"):
            period_idx = self._column_index(header, self.options["period_column"], role="Zeitraum")
        elif not period_text:
            self.errors.add(None, "Zeitraum fehlt: bitte period (z. B. 2022-06-30) oder period_column angeben")
        mapping = {k.lower(): v for k, v in (self.options.get("indicator_columns") or {}).items()}
        ignore = {c.lower() for c in self.options.get("ignore_columns", [])} | {region_col.lower()}
        if self.options.get("period_column"):
            ignore.add(self.options["period_column"].lower())
        value_cols = []
        unknown = []
        for i, h in enumerate(header):
            hl = h.lower()
            if hl in ignore:
                continue
            key = mapping.get(hl, hl)
            if key.lower() in indicators:
                value_cols.append((i, key.lower()))
            elif hl in indicator_names:
                value_cols.append((i, next(k for k, pk in indicators.items() if pk == indicator_names[hl])))
            else:
                unknown.append(h)
        if unknown:
            self.errors.add(
                1, "Spalten ohne passenden Indikator: " + ", ".join(unknown)
                + " (Indikator anlegen, indicator_columns oder ignore_columns angeben)",
            )
        if not value_cols and not unknown:
            self.errors.add(1, "keine Indikatorspalten gefunden")
        if self.errors:
            return iter(())

        def rows():
            for line, cells in table.rows:
                code = _cell(cells, region_idx)
                period = _cell(cells, period_idx) if period_idx is not None else period_text
                for i, key in value_cols:
                    yield line, code, key, period, _cell(cells, i)

        return rows()

    def _stream(self, cur, rows, regions, indicators, indicator_names) -> dict:
        buf = io.StringIO()
        pending = 0
        values = missing = 0
        periods_cache: dict[str, str] = {}
        decimal = getattr(self, "decimal", self.options.get("decimal"))
        for line, code, ind_text, period_text, value_text in rows:
            region_id = regions.get(code)
            if region_id is None:
                if self._all_codes is not None and code in self._all_codes:
                    self.errors.add(line, f"Raum {code!r}: keine Berechtigung", "region_code")
                else:
                    self.errors.add(line, f"unbekannter Raumschlüssel {code!r}", "region_code")
                continue
            ind_id = indicators.get(ind_text.lower()) or indicator_names.get(ind_text.lower())
            if ind_id is None:
                self.errors.add(line, f"unbekannter Indikator {ind_text!r}", "indicator")
                continue
            period = periods_cache.get(period_text)
            if period is None:
                try:
                    period = periods_cache[period_text] = parse_period(period_text)
                except CellError as e:
                    self.errors.add(line, str(e), "period")
                    continue
            if is_missing(value_text):
                missing += 1
                continue
            try:
                value = parse_decimal(value_text, decimal)
            except CellError as e:
                self.errors.add(line, f"{ind_text}: {e}", ind_text)
                continue
            if abs(value) >= Decimal("1e14"):
                self.errors.add(line, f"{ind_text}: Wert {value_text!r} ist zu groß", ind_text)
                continue
            if self.errors:
                continue  # keep validating, stop buffering
            buf.write(f"{line}\t{ind_id}\t{region_id}\t{period}\t{value}\n")
            values += 1
            pending += 1
            if pending >= COPY_BATCH:
                self._flush(cur, buf)
                buf = io.StringIO()
                pending = 0
        if pending and not self.errors:
            self._flush(cur, buf)
        return {"values_read": values, "missing": missing}

    @staticmethod
    def _flush(cur, buf):
        buf.seek(0)
        cur.copy_expert("COPY tmp_indicator_import (line, indicator_id, region_id, period, value) FROM STDIN", buf)

    def _check_duplicates(self, cur):
        cur.execute(
            """
            SELECT array_agg(t.line ORDER BY t.line), i.key, r.code, t.period
            FROM tmp_indicator_import t
            JOIN regions_indicator i ON i.id = t.indicator_id
            JOIN regions_region r ON r.id = t.region_id
            GROUP BY t.indicator_id, i.key, t.region_id, r.code, t.period HAVING count(*) > 1
            ORDER BY min(t.line) LIMIT 10000
            """
        )
        for lines, key, code, period in cur.fetchall():
            self.errors.add(
                lines[-1], f"doppelter Wert für {key} / {code} / {period} (auch in Zeile {', '.join(map(str, lines[:-1]))})"
            )

    def _upsert(self, cur) -> dict:
        user_id = getattr(self.user, "pk", None)
        run_id = getattr(self.import_run, "pk", None)
        cur.execute(
            f"""
            WITH ins AS (
                INSERT INTO {IndicatorValue._meta.db_table}
                    (indicator_id, region_id, period, value, is_rollup, import_run_id,
                     created_at, updated_at, created_by_id, updated_by_id)
                SELECT indicator_id, region_id, period, value, false, %(run)s, now(), now(), %(user)s, %(user)s
                FROM tmp_indicator_import
                ON CONFLICT (indicator_id, region_id, period) DO UPDATE
                    SET value = EXCLUDED.value, is_rollup = false, rollup_weight = NULL,
                        import_run_id = EXCLUDED.import_run_id,
                        updated_at = now(), updated_by_id = EXCLUDED.updated_by_id
                    WHERE {IndicatorValue._meta.db_table}.value IS DISTINCT FROM EXCLUDED.value
                       OR {IndicatorValue._meta.db_table}.is_rollup
                RETURNING (xmax = 0) AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
                   (SELECT count(*) FROM tmp_indicator_import)
            FROM ins
            """,
            {"run": run_id, "user": user_id},
        )
        created, updated, total = cur.fetchone()
        return {"created": created, "updated": updated, "unchanged": total - created - updated, "total": total}
