"""Exports of the current filter: the same rows as the page, in the agreed columns."""

import csv
import io

import pytest
from openpyxl import load_workbook

from library.exports import COLUMNS

URL = "/library/"


@pytest.fixture
def sales_client(client, sales):
    client.force_login(sales)
    return client


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


@pytest.mark.embedded
def test_an_export_row_carries_every_column(sales_client, imported_sample):
    response = sales_client.get("/library/export.csv", {"region": "320000", "theme": "cross-province"})
    header, row = csv_rows(response)
    values = dict(zip(header, row, strict=True))
    assert header == ["标题", "类型", "级别", "地区", "主题", "发文机关", "日期", "原文链接", "期次", "摘要"]
    assert values["标题"] == "靖江政务服务“跨省通办”向基层延伸"
    assert values["类型"] == "创新实践"
    assert values["地区"] == "江苏"
    assert "跨省通办" in values["主题"]
    assert values["日期"] == "2022-08-01"
    assert values["期次"] == str(imported_sample)
    assert "**" not in values["摘要"] and values["摘要"].startswith("随着人员异地流动")


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
