"""Exports of the library's current filter: .csv streamed row by row, .xlsx written by openpyxl's write-only
workbook to a temporary file (constant memory) and streamed from there. Both read ``export_batches``, the
selector behind the page, so an export holds exactly what the page lists. Every row, the header too, goes
through ``policies.safety.spreadsheet_row``: text a spreadsheet would evaluate as a formula is written as text.

The .xlsx is meant to be handed to a client as it is: the header bold and frozen, an autofilter over the
columns, widths that fit the content, dates as date cells; the file is named after the filter
(``政策库-江苏-跨省通办-2026-11-30.xlsx``)."""

import re
import tempfile
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from library.selectors import export_batches, vocabulary
from policies.models import Kind, Level, Region, Theme
from policies.safety import SpreadsheetWriter, spreadsheet_row

EXPORT_LIMIT = 100_000
# (header, width in characters) of each column.
LAYOUT = [
    ("标题", 48),
    ("类型", 10),
    ("级别", 8),
    ("地区", 12),
    ("城市", 16),
    ("主题", 20),
    ("发文机关", 24),
    ("文号", 20),
    ("印发日期", 12),
    ("日期", 12),
    ("原文链接", 36),
    ("条目链接", 36),
    ("期次", 28),
    ("摘要", 60),
]
COLUMNS = [header for header, _width in LAYOUT]
DATE_FORMAT = "yyyy-mm-dd"


def _entry_url_pattern():
    """The absolute address of an entry's page, ``{}`` standing for its id (reversed once, not per row)."""
    return settings.SITE_URL.rstrip("/") + reverse("library:entry", args=[987654321]).replace("987654321", "{}")


def entry_export_row(entry, kinds, levels, provinces, entry_url):
    """One row of an export from ``export_values``' dict of an entry; ``kinds`` and ``levels`` label them,
    ``provinces`` names the provinces by code (a city's tag names its province in 地区)."""
    province_names = list(dict.fromkeys(provinces.get(code // 10000 * 10000, "") for code, _name in entry["regions"]))
    cities = [name for code, name in entry["regions"] if code % 10000]
    return [
        entry["title"],
        kinds.get(entry["kind"], entry["kind"]),
        levels.get(entry["level"], entry["level"]),
        "、".join(name for name in province_names if name),
        "、".join(cities),
        "、".join(entry["themes"]),
        entry["issuer"],
        entry["doc_number"],
        entry["issued_on"],
        entry["published_on"],
        entry["source_url"],
        entry_url.format(entry["id"]),
        "、".join(entry["issues"]),
        entry["summary"].replace("**", ""),
    ]


def export_rows(criteria, *, limit=EXPORT_LIMIT):
    """The header and the rows, each through ``spreadsheet_row``; dates stay ``datetime.date`` values."""
    kinds = {value: str(label) for value, label in Kind.choices}  # in the request's language
    levels = {value: str(label) for value, label in Level.choices}
    provinces = {region.code: region.short_name for region in vocabulary()["provinces"]}
    entry_url = _entry_url_pattern()
    yield spreadsheet_row(COLUMNS)
    for batch in export_batches(criteria, limit=limit):
        for entry in batch:
            yield spreadsheet_row(entry_export_row(entry, kinds, levels, provinces, entry_url))


UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f;,]+')
NAME_PARTS = 4  # the filter's values named in a file name, at most


def export_filename(criteria, extension):
    """A file name that says what the file holds: 政策库, the filter's provinces or cities, themes, kinds,
    levels, keyword and issuing body (at most ``NAME_PARTS``), and the day: 政策库-江苏-跨省通办-2026-11-30.xlsx."""
    parts = []
    if criteria.regions:
        names = dict(Region.objects.filter(code__in=criteria.regions).values_list("code", "short_name"))
        parts += [names[code] for code in criteria.regions if code in names]
    if criteria.themes:
        names = {theme.pk: theme.name for theme in vocabulary()["themes"]}
        missing = [pk for pk in criteria.themes if pk not in names]
        if missing:
            names |= dict(Theme.objects.filter(pk__in=missing).values_list("pk", "name"))
        parts += [names[pk] for pk in criteria.themes if pk in names]
    parts += [str(Level(value).label) for value in criteria.levels]
    parts += [str(Kind(value).label) for value in criteria.kinds]
    parts += [value for value in (criteria.keyword, criteria.issuer) if value]
    cleaned = [UNSAFE_IN_NAME.sub("", part).strip()[:20] for part in parts]
    cleaned = [part for part in cleaned if part]
    if len(cleaned) > NAME_PARTS:
        cleaned = [*cleaned[:NAME_PARTS], _("etc")]
    day = timezone.localdate().isoformat()
    return "-".join([_("Library"), *cleaned, day]) + f".{extension}", f"dgd-library-{day}.{extension}"


def content_disposition(name, fallback):
    """RFC 6266: an ASCII ``filename`` for old clients and the UTF-8 ``filename*`` every current one reads."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class _Echo:
    def write(self, value):
        return value


def _csv_value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def csv_response(criteria):
    writer = SpreadsheetWriter(_Echo())

    def lines():
        yield "\ufeff"  # a byte-order mark, so Excel reads the file as UTF-8
        for row in export_rows(criteria):
            yield writer.writerow([_csv_value(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition(*export_filename(criteria, "csv"))
    return response


def write_xlsx(criteria, target):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Library"))
    for index, (_header, width) in enumerate(LAYOUT, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"  # before the first row: the sheet's view is written ahead of its rows
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DBEAFE")
    dates = [index for index, header in enumerate(COLUMNS) if header in ("印发日期", "日期")]
    count = 0
    for row in export_rows(criteria):
        if count == 0:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                cell.font, cell.fill, cell.alignment = bold, fill, Alignment(vertical="center")
                cells.append(cell)
            row = cells
        else:
            for index in dates:
                if row[index] is not None:
                    cell = WriteOnlyCell(sheet, value=row[index])
                    cell.number_format = DATE_FORMAT
                    row[index] = cell
        sheet.append(row)
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{count}"  # written after the rows
    workbook.save(target)


def xlsx_response(criteria):
    target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 -- FileResponse closes it when sent
    write_xlsx(criteria, target)
    target.seek(0)
    response = FileResponse(target, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition(*export_filename(criteria, "xlsx"))
    return response
