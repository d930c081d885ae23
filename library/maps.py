"""A tile-grid cartogram of China's 34 provincial-level divisions, coloured by a count, rendered on the server
as SVG: no script, no CDN, nothing to download.

Each division is one equal square placed roughly where it lies (the form Chinese data journalism uses for
province statistics): no outline, so no border or island group to get wrong, and 北京, 天津, 上海, 香港 and
澳门 are as easy to read and to click as 新疆. A legend gives the count each shade stands for.
"""

import math

from django.utils.translation import gettext as _

from library.markup import esc

# GB/T 2260 code → (column, row) on a 7 × 9 grid, north up, west left.
TILES = {
    230000: (6, 0),  # 黑龙江
    220000: (6, 1),  # 吉林
    150000: (3, 2), 110000: (4, 2), 120000: (5, 2), 210000: (6, 2),  # 内蒙古 北京 天津 辽宁
    650000: (0, 3), 620000: (1, 3), 640000: (2, 3), 140000: (3, 3), 130000: (4, 3), 370000: (5, 3),
    540000: (0, 4), 630000: (1, 4), 610000: (2, 4), 410000: (3, 4), 340000: (4, 4), 320000: (5, 4), 310000: (6, 4),
    510000: (1, 5), 500000: (2, 5), 420000: (3, 5), 360000: (4, 5), 330000: (5, 5),
    530000: (1, 6), 520000: (2, 6), 430000: (3, 6), 350000: (4, 6), 710000: (5, 6),
    450000: (2, 7), 440000: (3, 7), 810000: (4, 7),  # 广西 广东 香港
    460000: (2, 8), 820000: (3, 8),  # 海南 澳门
}  # fmt: skip
COLUMNS, ROWS = 7, 9
TILE, GAP = 54, 4  # an even tile: its centre is a whole number
STEP = TILE + GAP
LEGEND_ROW = 18  # the legend is a column of swatches in the empty north-west corner of the grid
# Light to dark blue; a division with no entry stays grey.
SHADES = ["#dbeafe", "#93c5fd", "#60a5fa", "#2563eb", "#1e3a8a"]
EMPTY = "#f3f4f6"


def bins(top):
    """The upper bound of each shade's range, for counts from 1 to ``top``: equal steps of the largest count,
    fewer shades when the counts are small (never a range that holds no whole number)."""
    if top <= 0:
        return []
    steps = min(len(SHADES), top)
    bounds = []
    for i in range(1, steps + 1):
        bound = math.ceil(top * i / steps)
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    return bounds


def shade(count, bounds):
    """The fill of a count among the ``bounds`` of ``bins``; the top shade is always the darkest."""
    if not count or not bounds:
        return EMPTY
    offset = len(SHADES) - len(bounds)
    for i, bound in enumerate(bounds):
        if count <= bound:
            return SHADES[offset + i]
    return SHADES[-1]


def legend(bounds, approximate):
    """Swatches and labels: 0, then each shade's range (1–12, 13–24, …)."""
    about = "~" if approximate else ""
    items = [{"fill": EMPTY, "label": "0"}]
    offset = len(SHADES) - len(bounds)
    low = 1
    for i, bound in enumerate(bounds):
        label = f"{about}{low}" if low == bound else f"{about}{low}–{bound}"
        items.append({"fill": SHADES[offset + i], "label": label})
        low = bound + 1
    for i, item in enumerate(items):
        item["y"] = (i + 1) * LEGEND_ROW
        item["text_y"] = (i + 1) * LEGEND_ROW + 11
    return items


def china_tile_map_svg(*, counts, regions, link=None, chosen=(), approximate=False):
    """The SVG as a string. ``counts``: code → n; ``regions``: the provincial regions (for their names);
    ``link``: code → URL the tile leads to, optional; ``chosen``: codes outlined as the current choice;
    ``approximate``: the counts are estimates (their labels say 约). Built as a string, not through a template:
    it is drawn on every facet request, and 34 tiles of template variables cost more than the counts."""
    top = max(counts.values(), default=0)
    bounds = bins(top)
    about = "~" if approximate else ""
    label_format = _("%(name)s: about %(count)s entries") if approximate else _("%(name)s: %(count)s entries")
    width, height = COLUMNS * STEP - GAP, ROWS * STEP - GAP
    title = _("Entries (estimated)") if approximate else _("Entries")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="group" '
        f'aria-label="{esc(_("Entries per province"))}" class="china-map" font-family="sans-serif">',
        f'<g class="legend" aria-hidden="true"><text x="0" y="11" font-size="12" font-weight="600" fill="#111827">'
        f"{esc(title)}</text>",
    ]
    for item in legend(bounds, approximate):
        parts.append(
            f'<rect x="0" y="{item["y"]}" width="14" height="14" rx="2" fill="{item["fill"]}" stroke="#94a3b8" '
            f'stroke-width="0.5"/><text x="20" y="{item["text_y"]}" font-size="11" fill="#374151">'
            f"{esc(item['label'])}</text>"
        )
    parts.append("</g>")
    for region in regions:
        if region.code not in TILES:
            continue
        column, row = TILES[region.code]
        x, y = column * STEP, row * STEP
        count = counts.get(region.code, 0)
        fill = shade(count, bounds)
        ink, soft = ("#fff", "#fff") if fill in SHADES[3:] else ("#111827", "#374151")
        is_chosen = region.code in chosen
        label = esc(label_format % {"name": region.short_name, "count": count})
        stroke = 'stroke="#b45309" stroke-width="3"' if is_chosen else 'stroke="#94a3b8" stroke-width="0.6"'
        url = link(region.code) if link else ""
        parts.append(
            f'<g class="tile{" chosen" if is_chosen else ""}" data-code="{region.code}" data-count="{count}">'
            + (f'<a href="{esc(url)}" aria-label="{label}">' if url else "")
            + f'<title>{label}</title><rect x="{x}" y="{y}" width="{TILE}" height="{TILE}" rx="4" fill="{fill}" '
            f'{stroke}/><text class="name" x="{x + TILE // 2}" y="{y + 22}" text-anchor="middle" font-size="13" '
            f'font-weight="600" fill="{ink}">{esc(region.short_name)}</text><text class="count" '
            f'x="{x + TILE // 2}" y="{y + 41}" text-anchor="middle" font-size="12" fill="{soft}">'
            f"{about if count else ''}{count}</text>" + ("</a>" if url else "") + "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
