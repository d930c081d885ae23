"""export_issue: the JSON contract of docs/issue-json.md and the newsletter text that imports back to the same JSON."""

import json

import pytest
from django.core.management import CommandError, call_command

from issues.models import Issue
from issues.selectors import issue_as_data
from issues.services import issue_import_newsletter
from policies.models import Entry

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

ENTRY_KEYS = {"number", "kind", "title", "issuer", "level", "regions", "partners", "themes", "source_url", "summary"}


def export(reference, fmt, tmp_path):
    path = tmp_path / f"issue.{fmt}"
    call_command("export_issue", reference, "--format", fmt, "-o", str(path))
    return path.read_text(encoding="utf-8")


def test_the_json_has_the_contracts_shape(imported_sample, tmp_path):
    data = json.loads(export("2022-08", "json", tmp_path))
    assert {"year", "month", "number", "series", "intro", "status", "stats", "sections"} <= set(data)
    assert (data["year"], data["month"], data["number"], data["series"]) == (2022, 8, 4, "政务服务分册")
    assert data["status"] == "published"
    assert data["stats"] == {"policies": 16, "national": 2, "ministry": 2, "provincial": 12, "practices": 13}
    assert [s["key"] for s in data["sections"]] == ["headlines", "policies", "practices", "analysis", "outlook"]
    assert data["sections"][0]["title"] == "一、要闻速递"
    entries = {e["number"]: e for s in data["sections"] for e in s["entries"]}
    assert len(entries) == 31
    for entry in entries.values():
        assert set(entry) >= ENTRY_KEYS
    assert entries["2.8"]["regions"] == ["500000", "510000"]
    assert entries["3.9"]["partners"] == ["新点"] and entries["3.9"]["kind"] == "practice"
    assert entries["1.1"]["source_url"] is None
    assert entries["1.1"]["level"] == "national" and entries["1.3"]["level"] == "ministry"
    assert entries["4.1"]["kind"] == "analysis" and entries["4.1"]["interprets"] == "2.3"
    assert entries["5.1"]["kind"] == "briefing"
    assert "cross-province" in entries["3.3"]["themes"]


def test_export_by_id_matches_export_by_month(imported_sample, tmp_path):
    assert export(str(imported_sample.pk), "json", tmp_path) == export("2022-08", "json", tmp_path)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("2031-01", "no issue for 2031-01"),
        ("August", "neither an issue id nor a month"),
        ("999999", "no issue with id"),
    ],
)
def test_unknown_issues_are_refused_clearly(reference, message, imported_sample):
    with pytest.raises(CommandError, match=message):
        call_command("export_issue", reference)


def test_text_export_is_in_the_newsletters_format(imported_sample, tmp_path):
    text = export("2022-08", "text", tmp_path)
    assert "\n第04期\n" in text and "\n2022年\n" in text
    assert "\n一、要闻速递\n" in text and "\n五、热点前瞻\n" in text
    assert "1.1、中共中央办公厅 国务院印发《关于规范村级组织工作事务、机制牌子和证明事项的意见》[政策原文](#)" in text
    assert "2.8、【重庆&四川】四川省人民政府办公厅、重庆市人民政府办公厅印发" in text
    assert "3.9、【河南&新点】忘带证件不用慌" in text
    assert "\n一、起草背景\n" in text and "\n1. 总体要求\n" in text


def test_text_reimports_to_the_same_json(imported_sample, tmp_path):
    original = issue_as_data(imported_sample)
    text = export("2022-08", "text", tmp_path)

    # into the same catalogue: nothing changes
    result = issue_import_newsletter(data=text.encode("utf-8"))
    assert (result.entries_created, result.entries_updated) == (0, 0)
    assert issue_as_data(result.issue) == original

    # into an empty catalogue: the same JSON again
    Issue.objects.all().delete()
    Entry.objects.all().delete()
    again = issue_import_newsletter(data=text.encode("utf-8")).issue
    assert issue_as_data(again) == original


def test_edits_to_a_draft_survive_the_round_trip(sample_bytes, tmp_path):
    issue = issue_import_newsletter(data=sample_bytes, draft=True).issue
    policy = issue.entries.get(title="北京市助企纾困优化营商环境若干措施")
    policy.source_url = "https://www.beijing.gov.cn/zhengce/t1.html"
    policy.doc_number = "京政发〔2022〕1号"
    policy.save()
    original = issue_as_data(issue)
    text = export("2022-08", "text", tmp_path)
    assert "《北京市助企纾困优化营商环境若干措施》（京政发〔2022〕1号）[政策原文](https://www.beijing.gov.cn/" in text
    Issue.objects.all().delete()
    Entry.objects.all().delete()
    assert issue_as_data(issue_import_newsletter(data=text.encode("utf-8"), draft=True).issue) == original


def test_a_published_issue_exports_as_it_was_published(imported_sample, tmp_path):
    before = export("2022-08", "json", tmp_path)
    policy = imported_sample.entries.get(title="北京市助企纾困优化营商环境若干措施")
    policy.summary = "后来改写的摘要。"
    policy.save()
    assert export("2022-08", "json", tmp_path) == before
    assert "后来改写的摘要" not in export("2022-08", "text", tmp_path)


def test_html_and_pdf_exports(imported_sample, tmp_path):
    html = export("2022-08", "html", tmp_path)
    assert '<h2 class="section-title">五、热点前瞻</h2>' in html and "国新办举行困难群众兜底保障" in html
    call_command("export_issue", "2022-08", "--format", "pdf", "-o", str(tmp_path / "issue.pdf"))
    assert (tmp_path / "issue.pdf").read_bytes().startswith(b"%PDF-")
    with pytest.raises(CommandError, match="needs -o"):
        call_command("export_issue", "2022-08", "--format", "pdf")
