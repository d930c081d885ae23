"""Exports of the library's current filter: .csv streamed row by row, .xlsx written by openpyxl's write-only
workbook to a temporary file (constant memory) and streamed from there. Both read ``export_batches``, the
selector behind the page, so an export holds exactly what the page lists. Every row, the header too, goes
through ``policies.safety.spreadsheet_row``: text a spreadsheet would evaluate as a formula is written as text."""

import tempfile

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from library.selectors import export_batches
from policies.models import Kind, Level
from policies.safety import SpreadsheetWriter, spreadsheet_row

EXPORT_LIMIT = 100_000
COLUMNS = ["标题", "类型", "级别", "地区", "主题", "发文机关", "日期", "原文链接", "期次", "摘要"]


def entry_export_row(entry, kinds, levels):
    """One row of an export from ``export_values``' dict of an entry; ``kinds`` and ``levels`` label them."""
    return [
        entry["title"],
        kinds.get(entry["kind"], entry["kind"]),
        levels.get(entry["level"], entry["level"]),
        "、".join(entry["regions"]),
        "、".join(entry["themes"]),
        entry["issuer"],
        entry["published_on"].isoformat(),
        entry["source_url"],
        "、".join(entry["issues"]),
        entry["summary"].replace("**", ""),
    ]


def export_rows(criteria, *, limit=EXPORT_LIMIT):
    kinds = {value: str(label) for value, label in Kind.choices}  # in the request's language
    levels = {value: str(label) for value, label in Level.choices}
    yield spreadsheet_row(COLUMNS)
    for batch in export_batches(criteria, limit=limit):
        for entry in batch:
            yield spreadsheet_row(entry_export_row(entry, kinds, levels))


def _filename(extension):
    return f"dgd-library-{timezone.localdate().isoformat()}.{extension}"


class _Echo:
    def write(self, value):
        return value


def csv_response(criteria):
    writer = SpreadsheetWriter(_Echo())

    def lines():
        yield "\ufeff"  # a byte-order mark, so Excel reads the file as UTF-8
        for row in export_rows(criteria):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


def write_xlsx(criteria, target):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Library"))
    for row in export_rows(criteria):
        sheet.append(row)
    workbook.save(target)


def xlsx_response(criteria):
    target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 -- FileResponse closes it when sent
    write_xlsx(criteria, target)
    target.seek(0)
    return FileResponse(
        target,
        as_attachment=True,
        filename=_filename("xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
