"""A map of China coloured by a count per provincial-level division, rendered on the server as SVG: no
script, no CDN, nothing to download. The outlines come from pygal-maps-china's SVG (its ``CN-XX`` shapes);
only the shapes are used, so pygal itself is not needed."""

import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from importlib.resources import files

from django.template.loader import render_to_string

# pygal-maps-china's shape classes → GB/T 2260 codes.
SHAPES = {
    "CN-BJ": 110000, "CN-TJ": 120000, "CN-HE": 130000, "CN-SX": 140000, "CN-NM": 150000,
    "CN-LN": 210000, "CN-JL": 220000, "CN-HL": 230000, "CN-SH": 310000, "CN-JS": 320000,
    "CN-ZJ": 330000, "CN-AH": 340000, "CN-FJ": 350000, "CN-JX": 360000, "CN-SD": 370000,
    "CN-HA": 410000, "CN-HB": 420000, "CN-HN": 430000, "CN-GD": 440000, "CN-GX": 450000,
    "CN-HI": 460000, "CN-CQ": 500000, "CN-SC": 510000, "CN-GZ": 520000, "CN-YN": 530000,
    "CN-XZ": 540000, "CN-SN": 610000, "CN-GS": 620000, "CN-QH": 630000, "CN-NX": 640000,
    "CN-XJ": 650000, "CN-TW": 710000, "CN-HK": 810000, "CN-MO": 820000,
}  # fmt: skip
SVG_NS = "{http://www.w3.org/2000/svg}"
# Light to dark blue, by share of the largest count.
SHADES = ["#dbeafe", "#93c5fd", "#60a5fa", "#2563eb", "#1e3a8a"]
EMPTY = "#f3f4f6"


def shade(count, top):
    if not count:
        return EMPTY
    return SHADES[min(len(SHADES) - 1, int(len(SHADES) * count / (top + 1)))]


def _points(d):
    """The on-curve points of a path of absolute commands (M L H V C S Z), grouped by sub-path."""
    polygons, current, x, y = [], [], 0.0, 0.0
    for command, args in re.findall(r"([MLHVCSZ])([^MLHVCSZ]*)", d):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", args)]
        if command == "M":
            if current:
                polygons.append(current)
            current = []
            numbers, command = numbers, "L"
        if command == "L":
            pairs = list(zip(numbers[0::2], numbers[1::2], strict=False))
        elif command == "H":
            pairs = [(n, y) for n in numbers]
        elif command == "V":
            pairs = [(x, n) for n in numbers]
        elif command == "C":
            pairs = list(zip(numbers[4::6], numbers[5::6], strict=False))
        elif command == "S":
            pairs = list(zip(numbers[2::4], numbers[3::4], strict=False))
        else:  # Z
            pairs = []
        for x, y in pairs:
            current.append((x, y))
    if current:
        polygons.append(current)
    return polygons


def _area_and_centroid(polygon):
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-9:
        xs, ys = zip(*polygon, strict=True)
        return 0.0, (sum(xs) / len(xs), sum(ys) / len(ys))
    return abs(area) / 2, (cx / (3 * area), cy / (3 * area))


@lru_cache(maxsize=1)
def outlines():
    """(viewBox, {code: (path data list, label point)}), read once per process."""
    root = ET.fromstring((files("pygal_maps_china") / "china.svg").read_text(encoding="utf-8"))
    shapes = {}
    for group in root.iter(f"{SVG_NS}g"):
        classes = group.get("class", "").split()
        code = next((SHAPES[c] for c in classes if c in SHAPES), None)
        if code is None:
            continue
        paths = [path.get("d") for path in group.iter(f"{SVG_NS}path") if path.get("d")]
        polygons = [polygon for d in paths for polygon in _points(d) if len(polygon) > 2]
        _, label = max((_area_and_centroid(polygon) for polygon in polygons), key=lambda found: found[0])
        shapes[code] = (paths, label)
    return root.get("viewBox"), shapes


def china_map_svg(*, counts, regions, link=None, chosen=(), approximate=False):
    """The SVG as a string. ``counts``: code → n; ``regions``: the provincial regions (for names);
    ``link``: code → URL of the province (its page), optional; ``chosen``: codes outlined as the current
    choice; ``approximate``: the counts are estimates (their labels say 约)."""
    view_box, shapes = outlines()
    top = max(counts.values(), default=0)
    provinces = []
    for region in regions:
        if region.code not in shapes:
            continue
        paths, (x, y) = shapes[region.code]
        count = counts.get(region.code, 0)
        fill = shade(count, top)
        provinces.append(
            {
                "code": region.code,
                "name": region.short_name,
                "count": count,
                "paths": paths,
                "x": round(x, 1),
                "y": round(y, 1),
                "fill": fill,
                "dark": fill in SHADES[3:],
                "url": link(region.code) if link else "",
                "chosen": region.code in chosen,
            }
        )
    return render_to_string(
        "library/china_map.svg", {"provinces": provinces, "view_box": view_box, "top": top, "approximate": approximate}
    )
