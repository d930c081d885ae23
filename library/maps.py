"""A map of China drawn as a tile grid (one square per provincial-level division, placed roughly where it
lies), coloured by a count per province. Server-rendered SVG: no script, no CDN, nothing to download."""

from django.template.loader import render_to_string

# GB/T 2260 code → (column, row) on the grid.
TILES = {
    230000: (9, 0),
    150000: (6, 1),
    220000: (9, 1),
    650000: (1, 2),
    620000: (3, 2),
    640000: (4, 2),
    110000: (6, 2),
    120000: (7, 2),
    210000: (8, 2),
    630000: (2, 3),
    610000: (4, 3),
    140000: (5, 3),
    130000: (6, 3),
    370000: (7, 3),
    540000: (1, 4),
    510000: (3, 4),
    500000: (4, 4),
    410000: (5, 4),
    340000: (6, 4),
    320000: (7, 4),
    310000: (8, 4),
    530000: (3, 5),
    520000: (4, 5),
    420000: (5, 5),
    360000: (6, 5),
    330000: (7, 5),
    450000: (4, 6),
    430000: (5, 6),
    350000: (7, 6),
    710000: (8, 6),
    820000: (4, 7),
    440000: (5, 7),
    810000: (6, 7),
    460000: (5, 8),
}
SIZE = 56
GAP = 4
# Light to dark blue, by share of the largest count.
SHADES = ["#dbeafe", "#93c5fd", "#60a5fa", "#2563eb", "#1e3a8a"]


def shade(count, top):
    if not count:
        return "#f3f4f6"
    return SHADES[min(len(SHADES) - 1, int(len(SHADES) * count / (top + 1)))]


def china_map_svg(*, counts, regions, link=None):
    """The SVG as a string. ``counts``: code → n; ``regions``: the provincial regions (for names);
    ``link``: code → URL of the tile (the province page), optional."""
    top = max(counts.values(), default=0)
    tiles = []
    for region in regions:
        if region.code not in TILES:
            continue
        column, row = TILES[region.code]
        count = counts.get(region.code, 0)
        tiles.append(
            {
                "code": region.code,
                "name": region.short_name,
                "count": count,
                "x": column * (SIZE + GAP),
                "y": row * (SIZE + GAP),
                "fill": shade(count, top),
                "dark": count and shade(count, top) in SHADES[3:],
                "url": link(region.code) if link else "",
            }
        )
    return render_to_string(
        "library/china_map.svg",
        {"tiles": tiles, "size": SIZE, "width": 10 * (SIZE + GAP), "height": 9 * (SIZE + GAP), "top": top},
    )
