"""Synthetic but realistic benchmark data.

* a region tree (full size: 1 city → 20 districts → 200 → 1,800 → 8,979 =
  11,000 regions) with leading-zero codes, written as a canonical regions CSV
  (``code,name,parent_code,level``) and imported through the real
  ``RegionImporter`` (``import_now("regions", …)``);
* an indicator catalogue of 10 indicators (sums, weighted means, none) created
  with ``regions.services.upsert_indicators``;
* a long-form indicator values file (``region_code;indicator;period;value``,
  ``;`` delimiter, decimal comma in about half of the share values), full
  size 10 indicators × 10 periods × 10,000 regions = 1,000,000 values,
  streamed to ``bench/out/`` row by row (never held in memory).

Values are given for every leaf and, as statistics offices publish them, for
the upper levels too (city, districts, the level below) and for part of
level 3; the rest of level 3 is filled by the roll-up.

Run alone: ``.venv/bin/python bench/gen.py [--quick] [--files-only]``.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SEED = 20240611

LEVELS = [
    {"key": "stadt", "name": "Stadt", "name_plural": "Städte", "rank": 0},
    {"key": "bezirk", "name": "Bezirk", "name_plural": "Bezirke", "rank": 1},
    {"key": "prognoseraum", "name": "Prognoseraum", "name_plural": "Prognoseräume", "rank": 2},
    {"key": "bezirksregion", "name": "Bezirksregion", "name_plural": "Bezirksregionen", "rank": 3},
    {"key": "planungsraum", "name": "Planungsraum", "name_plural": "Planungsräume", "rank": 4},
]

INDICATORS = [
    {
        "key": "einwohner",
        "name": "Einwohnerinnen und Einwohner",
        "unit": "Personen",
        "rollup": "sum",
        "direction": "neutral",
        "decimals": 0,
    },
    {
        "key": "einwohner_u18",
        "name": "Einwohner unter 18 Jahren",
        "unit": "Personen",
        "rollup": "sum",
        "direction": "neutral",
        "decimals": 0,
    },
    {
        "key": "einwohner_65plus",
        "name": "Einwohner ab 65 Jahren",
        "unit": "Personen",
        "rollup": "sum",
        "direction": "neutral",
        "decimals": 0,
    },
    {
        "key": "arbeitslose",
        "name": "Arbeitslose (SGB II und III)",
        "unit": "Personen",
        "rollup": "sum",
        "direction": "higher_worse",
        "decimals": 0,
    },
    {
        "key": "sgb2_quote",
        "name": "Transferbezug SGB II/XII",
        "unit": "%",
        "rollup": "weighted_mean",
        "weight": "einwohner",
        "direction": "higher_worse",
        "decimals": 2,
    },
    {
        "key": "kinderarmut",
        "name": "Kinderarmut (SGB II, unter 15)",
        "unit": "%",
        "rollup": "weighted_mean",
        "weight": "einwohner_u18",
        "direction": "higher_worse",
        "decimals": 2,
    },
    {
        "key": "altersarmut",
        "name": "Grundsicherung im Alter",
        "unit": "%",
        "rollup": "weighted_mean",
        "weight": "einwohner_65plus",
        "direction": "higher_worse",
        "decimals": 2,
    },
    {
        "key": "wohndauer_5j",
        "name": "Wohndauer über 5 Jahre",
        "unit": "%",
        "rollup": "none",
        "direction": "higher_better",
        "decimals": 1,
    },
    {
        "key": "migrationshintergrund",
        "name": "Einwohner mit Migrationshintergrund",
        "unit": "%",
        "rollup": "none",
        "direction": "neutral",
        "decimals": 1,
    },
    {
        "key": "statusindex",
        "name": "Statusindex (z-Wert)",
        "unit": "",
        "rollup": "none",
        "direction": "higher_better",
        "decimals": 3,
    },
]

STEMS = [
    "Mitte",
    "Nord",
    "Süd",
    "Ost",
    "West",
    "Altstadt",
    "Neustadt",
    "Am Park",
    "Schloßberg",
    "Mühlenviertel",
    "Gärtnerstraße",
    "Lindenhöhe",
    "Auenwald",
    "Brückenkopf",
    "Kirchplatz",
    "Hafen",
    "Am Anger",
    "Weißensee",
    "Rosenthal",
    "Fischerkiez",
    "Sonnenhöfe",
    "Bahnhofsviertel",
    "Eichkamp",
    "Grünau",
    "Märchenviertel",
]


@dataclass(frozen=True)
class Size:
    name: str
    level_counts: tuple[int, ...]
    periods: tuple[str, ...]
    value_regions: int

    @property
    def regions(self) -> int:
        return sum(self.level_counts)

    @property
    def values(self) -> int:
        return len(INDICATORS) * len(self.periods) * self.value_regions


FULL = Size("full", (1, 20, 200, 1800, 8979), tuple(str(y) for y in range(2015, 2025)), 10_000)
QUICK = Size("quick", (1, 4, 20, 75, 300), ("2023", "2024"), 350)


@dataclass
class Node:
    code: str
    name: str
    parent: Node | None
    rank: int
    children: list = field(default_factory=list)
    population: int = 0
    traits: tuple = ()


def _split(total: int, parents: int, rng: random.Random) -> list[int]:
    """``total`` children over ``parents`` parents, each at least one, unevenly."""
    weights = [rng.uniform(0.5, 1.5) for _ in range(parents)]
    scale = (total - parents) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    i = 0
    while sum(counts) < total:
        counts[i % parents] += 1
        i += 1
    return counts


def build_tree(size: Size, seed: int = SEED) -> list[list[Node]]:
    """The tree level by level; codes add two (or more) digits per level, with
    leading zeros ("01", "0103", "010307", "01030702")."""
    assert sum(size.level_counts) == size.regions and size.level_counts[0] == 1
    rng = random.Random(seed)
    root = Node(code="00", name="Musterstadt", parent=None, rank=0)
    levels = [[root]]
    for rank, count in enumerate(size.level_counts[1:], start=1):
        parents = levels[-1]
        counts = _split(count, len(parents), rng)
        width = max(2, len(str(max(counts))))
        level = []
        for parent, n in zip(parents, counts, strict=True):
            prefix = "" if parent.parent is None else parent.code
            for k in range(1, n + 1):
                code = f"{prefix}{k:0{width}d}"
                node = Node(code=code, name=f"{rng.choice(STEMS)} {code}", parent=parent, rank=rank)
                parent.children.append(node)
                level.append(node)
        levels.append(level)
    assert [len(lv) for lv in levels] == list(size.level_counts)
    # populations and social traits, bottom-up so inner regions are consistent
    for node in levels[-1]:
        node.population = rng.randint(800, 12_000)
        node.traits = (
            rng.uniform(0.10, 0.24),  # share under 18
            rng.uniform(0.12, 0.30),  # share 65+
            rng.uniform(0.02, 0.16),  # unemployment
            rng.uniform(0.03, 0.40),  # SGB II share
            rng.uniform(0.35, 0.85),  # living there > 5 years
            rng.uniform(0.10, 0.65),  # migration background
            rng.uniform(-0.01, 0.02),  # yearly growth
        )
    for level in reversed(levels[:-1]):
        for node in level:
            node.population = sum(c.population for c in node.children)
            n = len(node.children)
            node.traits = tuple(sum(c.traits[i] for c in node.children) / n for i in range(7))
    return levels


def value_regions(levels: list[list[Node]], count: int) -> list[Node]:
    """Every leaf first, then inner regions from the top down until ``count``."""
    ordered = list(levels[-1])
    for level in levels[:-1]:
        ordered.extend(level)
    return ordered[:count]


def write_regions_csv(levels: list[list[Node]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = [lv["key"] for lv in LEVELS]
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("code,name,parent_code,level\n")
        for level in levels:
            for node in level:
                parent = node.parent.code if node.parent else ""
                f.write(f'{node.code},"{node.name}",{parent},{keys[node.rank]}\n')
                n += 1
    return n


def _fmt_share(rng: random.Random, value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",") if rng.random() < 0.5 else text


def write_values_csv(levels: list[list[Node]], size: Size, path: Path, seed: int = SEED) -> int:
    """Stream ``size.values`` rows to ``path``; returns the number of values."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed + 1)
    regions = value_regions(levels, size.value_regions)
    n = 0
    buf: list[str] = []
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("region_code;indicator;period;value\n")
        for p, period in enumerate(size.periods):
            for node in regions:
                u18, o65, alq, sgb2, stay, migr, growth = node.traits
                noise = 1 + rng.uniform(-0.02, 0.02)
                pop = max(1, round(node.population * (1 + growth) ** p * noise))
                kids = round(pop * u18)
                old = round(pop * o65)
                unemployed = round(pop * 0.65 * alq * (1 + rng.uniform(-0.1, 0.1)))
                sgb = min(99.0, sgb2 * 100 * (1 + rng.uniform(-0.05, 0.05)))
                code = node.code
                buf.append(f"{code};einwohner;{period};{pop}\n")
                buf.append(f"{code};einwohner_u18;{period};{kids}\n")
                buf.append(f"{code};einwohner_65plus;{period};{old}\n")
                buf.append(f"{code};arbeitslose;{period};{unemployed}\n")
                buf.append(f"{code};sgb2_quote;{period};{_fmt_share(rng, sgb, 2)}\n")
                buf.append(f"{code};kinderarmut;{period};{_fmt_share(rng, min(99.0, sgb * 1.4), 2)}\n")
                buf.append(f"{code};altersarmut;{period};{_fmt_share(rng, sgb * 0.35, 2)}\n")
                buf.append(f"{code};wohndauer_5j;{period};{_fmt_share(rng, stay * 100, 1)}\n")
                buf.append(f"{code};migrationshintergrund;{period};{_fmt_share(rng, migr * 100, 1)}\n")
                z = (0.21 - sgb2) * 12 + rng.uniform(-0.3, 0.3)
                buf.append(f"{code};statusindex;{period};{_fmt_share(rng, z, 3)}\n")
                n += len(INDICATORS)
                if len(buf) >= 20_000:
                    f.write("".join(buf))
                    buf.clear()
        f.write("".join(buf))
    assert n == size.values, (n, size.values)
    return n


def write_prefix(src: Path, dst: Path, rows: int) -> int:
    """The header and the first ``rows`` data rows of ``src`` (scale check)."""
    n = 0
    with open(src, encoding="utf-8", newline="") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        fout.write(fin.readline())
        for line in fin:
            if n >= rows:
                break
            fout.write(line)
            n += 1
    return n


def paths(size: Size) -> dict[str, Path]:
    return {
        "regions": common.OUT / f"regions_{size.regions}.csv",
        "values": common.OUT / f"indicator_values_{size.values}.csv",
    }


def write_files(size: Size) -> dict:
    p = paths(size)
    levels = build_tree(size)
    with common.Timer() as t_reg:
        n_regions = write_regions_csv(levels, p["regions"])
    with common.Timer() as t_val:
        n_values = write_values_csv(levels, size, p["values"])
    return {
        "regions_csv": str(p["regions"].relative_to(common.ROOT)),
        "values_csv": str(p["values"].relative_to(common.ROOT)),
        "regions": n_regions,
        "level_counts": list(size.level_counts),
        "values": n_values,
        "values_csv_bytes": p["values"].stat().st_size,
        "write_values_seconds": round(t_val.seconds, 3),
        "write_regions_seconds": round(t_reg.seconds, 3),
    }


def load_database(size: Size) -> dict:
    """Import the regions CSV through the real importer and create the
    indicator catalogue (expects an empty bench database)."""
    from django.db import connection

    from core.imports.base import import_now
    from regions.models import Region
    from regions.services import upsert_indicators

    p = paths(size)
    with common.Timer() as t:
        run = import_now("regions", str(p["regions"]), options={"levels": LEVELS}, original_name=p["regions"].name)
    if run.status != "succeeded":
        raise SystemExit(f"region import failed: {run.status} {run.errors[:5]}")
    assert Region.objects.count() == size.regions
    upsert_indicators(INDICATORS)
    # the state autovacuum would reach shortly after a bulk import
    with connection.cursor() as cur:
        cur.execute("ANALYZE regions_region")
    return {"region_import_seconds": round(t.seconds, 3), "region_import_summary": run.summary}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small smoke size")
    ap.add_argument("--files-only", action="store_true", help="write the CSV files, do not touch the database")
    args = ap.parse_args(argv)
    size = QUICK if args.quick else FULL
    info = write_files(size)
    if not args.files_only:
        common.configure()
        common.setup_django()
        common.migrate_and_flush()
        info.update(load_database(size))
    for k, v in info.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
