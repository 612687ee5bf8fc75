"""Derive the demo city's data files from Berlin's open data.

    .venv/bin/python sozialraum/demo_data/build_demo_data.py [../shared/data/berlin]

The CSV tables are copied unchanged; the boundaries are simplified (topology
kept, ~25 m tolerance, coordinates rounded to 5 decimals ≈ 1 m) so the repository
stays small. The legacy ``crs`` member is dropped (RFC 7946).
"""

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "berlin"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from regions.geo import simplify_geometry  # noqa: E402

TOLERANCE_DEG = 0.00025
TABLES = ["lor_2021.csv", "einwohner_2022-06_plr.csv", "mss_2021_kontext_plr.csv", "SOURCES.md"]
BOUNDARIES = {
    "bezirke.geojson": ["name"],
    "prognoseraeume_2021.geojson": ["PGR_ID", "PGR_NAME", "BEZ", "GROESSE_M2"],
}


def main(source: Path):
    HERE.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        shutil.copyfile(source / name, HERE / name)
    with open(HERE / "SOURCES.md", "a", encoding="utf-8") as f:
        f.write(
            "\n## In this project\n\nCopied by `sozialraum/demo_data/build_demo_data.py`: the CSV files unchanged; "
            "the boundaries simplified (topology kept, tolerance 0.00025° ≈ 25 m, coordinates rounded to 5 "
            "decimals) with the properties listed in that script, without the legacy `crs` member.\n"
        )
    for name, keep in BOUNDARIES.items():
        data = json.loads((source / name).read_text(encoding="utf-8-sig"))
        features = [
            {
                "type": "Feature",
                "properties": {k: f["properties"][k] for k in keep if k in f["properties"]},
                "geometry": simplify_geometry(f["geometry"], TOLERANCE_DEG),
            }
            for f in data["features"]
        ]
        out = {"type": "FeatureCollection", "features": features}
        (HERE / name).write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        print(name, (source / name).stat().st_size, "→", (HERE / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "berlin")
