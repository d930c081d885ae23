"""Exports of the current filter: the same rows as the page, in the agreed columns."""

import csv
import io

import pytest
from openpyxl import load_workbook

from library.exports import COLUMNS

URL = "/library/"


def xlsx_rows(response):
    data = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def csv_rows(response):
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.embedded
@pytest.mark.parametrize("params", [{"region": "320000"}, {"theme": "cross-province"}, {"kind": "practice"}, {}])
def test_csv_and_xlsx_hold_the_rows_the_page_lists(sales_client, imported_sample, params):
    page = sales_client.get(URL, params)
    on_screen = [entry.title for entry in page.context["results"].entries]
    count = page.context["count"]
    for extension, read in (("csv", csv_rows), ("xlsx", xlsx_rows)):
        response = sales_client.get(f"/library/export.{extension}", params)
        assert response.status_code == 200
        assert "attachment" in response["Content-Disposition"]
        rows = read(response)
        assert rows[0] == COLUMNS
        assert len(rows) - 1 == count
        assert [row[0] for row in rows[1 : len(on_screen) + 1]] == on_screen


HEADER = [
    "标题",
    "类型",
    "级别",
    "地区",
    "城市",
    "主题",
    "发文机关",
    "文号",
    "印发日期",
    "日期",
    "原文链接",
    "条目链接",
    "期次",
    "摘要",
]


@pytest.mark.embedded
def test_an_export_row_carries_every_column(sales_client, imported_sample, settings):
    from policies.models import Entry

    settings.SITE_URL = "https://dgd.example.cn/"
    response = sales_client.get("/library/export.csv", {"region": "320000", "theme": "cross-province"})
    header, row = csv_rows(response)
    values = dict(zip(header, row, strict=True))
    assert header == HEADER == COLUMNS
    assert values["标题"] == "靖江政务服务“跨省通办”向基层延伸"
    assert values["类型"] == "创新实践"
    assert values["地区"] == "江苏"
    assert "跨省通办" in values["主题"]
    assert values["日期"] == "2022-08-01"
    assert values["期次"] == str(imported_sample)
    entry = Entry.objects.get(title=values["标题"])
    assert values["条目链接"] == f"https://dgd.example.cn/library/entry/{entry.pk}/"
    assert values["城市"] == "、".join(r.name for r in entry.regions.order_by("code") if r.code % 10000)
    assert "**" not in values["摘要"] and values["摘要"].startswith("随着人员异地流动")


@pytest.mark.embedded
def test_document_number_issue_date_and_cities_are_exported(sales_client, kunshan, settings):
    import datetime

    from tests.factories import EntryFactory
    from tests.library.conftest import indexed

    indexed(
        EntryFactory(
            title="昆山市优化营商环境若干措施",
            doc_number="昆政发〔2022〕12号",
            issued_on=datetime.date(2022, 7, 15),
            published_on=datetime.date(2022, 8, 3),
            regions=[kunshan.code],
        )
    )
    header, row = csv_rows(sales_client.get("/library/export.csv", {"region": "320000"}))
    values = dict(zip(header, row, strict=True))
    assert values["文号"] == "昆政发〔2022〕12号"
    assert values["印发日期"] == "2022-07-15"
    assert values["地区"] == "江苏" and values["城市"] == "昆山市"
    workbook = load_workbook(io.BytesIO(b"".join(sales_client.get("/library/export.xlsx", {"region": "320000"}))))
    sheet = workbook.active
    cells = {sheet.cell(1, i).value: sheet.cell(2, i) for i in range(1, len(COLUMNS) + 1)}
    assert cells["印发日期"].value == datetime.datetime(2022, 7, 15)  # a date cell, not text
    assert cells["印发日期"].is_date and cells["印发日期"].number_format == "yyyy-mm-dd"
    assert cells["日期"].is_date and cells["文号"].value == "昆政发〔2022〕12号"


@pytest.mark.embedded
def test_the_xlsx_is_formatted_to_be_handed_over(sales_client, imported_sample):
    response = sales_client.get("/library/export.xlsx", {"region": "320000"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:N{1 + 4}"
    assert sheet["A1"].font.bold
    assert sheet.column_dimensions["A"].width == 48 and sheet.column_dimensions["N"].width == 60
    assert all(sheet.cell(row, 10).is_date for row in range(2, 6))  # 日期


@pytest.mark.embedded
def test_the_file_name_says_what_the_filter_holds(sales_client, imported_sample):
    from urllib.parse import quote

    from django.utils import timezone

    day = timezone.localdate().isoformat()
    response = sales_client.get("/library/export.xlsx", {"region": "320000", "theme": "cross-province"})
    name = f"政策库-江苏-跨省通办-{day}.xlsx"
    disposition = response["Content-Disposition"]
    assert disposition == (f"attachment; filename=\"dgd-library-{day}.xlsx\"; filename*=UTF-8''{quote(name, safe='')}")
    csv = sales_client.get("/library/export.csv", {"kind": "practice", "q": "证照"})
    assert quote(f"政策库-创新实践-证照-{day}.csv", safe="") in csv["Content-Disposition"]
    everything = sales_client.get("/library/export.csv")
    assert quote(f"政策库-{day}.csv", safe="") in everything["Content-Disposition"]
    odd = sales_client.get(
        "/library/export.csv", {"q": 'a/b\\c:"d"', "region": ["110000", "120000", "310000", "320000"]}
    )
    assert quote(f"政策库-北京-天津-上海-江苏-等-{day}.csv", safe="") in odd["Content-Disposition"]


@pytest.mark.embedded
def test_the_export_is_streamed_in_batches(sales_client, imported_sample, monkeypatch):
    from library import selectors

    calls = []
    original = selectors.export_values

    def counting(ids):
        calls.append(len(ids))
        return original(ids)

    monkeypatch.setattr(selectors, "export_values", counting)
    original_batches = selectors.export_batches
    monkeypatch.setattr(
        "library.exports.export_batches", lambda criteria, limit: original_batches(criteria, limit=limit, batch=10)
    )
    response = sales_client.get("/library/export.csv")
    assert len(csv_rows(response)) == 1 + imported_sample.items.count()
    assert calls == [10, 10, 10, 1]
