"""import_newsletter against the sample issue, variants of it, and malformed files."""

import pytest
from django.core.management import CommandError, call_command

from issues.models import Issue, IssueEntry, IssueStatus
from issues.selectors import issue_as_data, issue_sections
from issues.services import issue_draft_intro, issue_import_newsletter
from policies.models import Entry, Status

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def entries_by_number(issue):
    return {n.number: n.entry for section in issue_sections(issue) for n in section.items}


def database_state():
    return (
        Issue.objects.count(),
        Entry.objects.count(),
        IssueEntry.objects.count(),
        Entry.history.count(),
        Issue.history.count(),
        sorted(Entry.objects.values_list("id", "title", "summary", "status")),
    )


def import_text(text, **kwargs):
    return issue_import_newsletter(data=text.encode("utf-8"), source_name="variant.txt", **kwargs)


def line_of(text, fragment):
    return text[: text.index(fragment)].count("\n") + 1


# --- the sample --------------------------------------------------------------------------------


def test_the_sample_becomes_issue_2022_08_number_4_with_its_five_sections(imported_sample):
    issue = imported_sample
    assert (issue.series.name, issue.year, issue.month, issue.number) == ("政务服务分册", 2022, 8, 4)
    assert issue.status == IssueStatus.PUBLISHED and issue.published_at is not None
    assert [(s.key, len(s.items)) for s in issue_sections(issue)] == [
        ("headlines", 4),
        ("policies", 12),
        ("practices", 13),
        ("analysis", 1),
        ("outlook", 1),
    ]
    assert issue.intro.startswith("《数字政府动态——政务服务分册》8月刊选取国家级、部委、省级重要政策16条")


def test_levels_come_from_the_issuer_and_the_section(imported_sample):
    entries = entries_by_number(imported_sample)
    assert [entries[n].level for n in ("1.1", "1.2", "1.3", "1.4")] == ["national", "national", "ministry", "ministry"]
    assert {entries[f"2.{i}"].level for i in range(1, 13)} == {"provincial"}


def test_regions_and_partners_come_from_the_tags(imported_sample):
    entries = entries_by_number(imported_sample)
    assert sorted(r.code for r in entries["2.8"].regions.all()) == [500000, 510000]  # 【四川&重庆】
    assert [r.code for r in entries["3.9"].regions.all()] == [410000]  # 【河南&新点】
    assert [p.name for p in entries["3.9"].partners.all()] == ["新点"]
    assert [r.code for r in entries["2.1"].regions.all()] == [110000]
    assert [r.code for r in entries["4.1"].regions.all()] == [330000]  # the analysis is about 浙江
    assert not entries["1.1"].regions.exists()


def test_issuer_and_document_title_are_split_from_the_heading(imported_sample):
    entries = entries_by_number(imported_sample)
    assert entries["1.1"].issuer == "中共中央办公厅 国务院"
    assert entries["1.1"].title == "关于规范村级组织工作事务、机制牌子和证明事项的意见"
    assert entries["1.1"].action == "印发"
    assert entries["1.3"].action == "发布"
    assert entries["2.2"].issuer == "江苏省人力资源社会保障厅"
    assert entries["2.8"].issuer == "四川省人民政府办公厅、重庆市人民政府办公厅"
    assert entries["2.9"].issuer == "贵州省大数据局等 14 个部门"
    assert entries["2.3"].doc_number == "浙政发〔2022〕20号"  # quoted after the title in the analysis
    assert entries["3.1"].title == "昆山开县级市先河，“昆如意”入驻国家政务服务平台"
    assert entries["3.1"].issuer == ""


def test_a_hash_link_means_no_link_known(imported_sample):
    assert all(not entry.source_url for entry in entries_by_number(imported_sample).values())


def test_summaries_keep_bold_phrases_and_page_breaks_are_joined(imported_sample):
    entries = entries_by_number(imported_sample)
    assert "**减轻村级组织工作事务负担、精简村级工作机制和牌子、改进村级组织出具证明工作**" in entries["1.1"].summary
    assert "可能出现明显不当、显失公平" in entries["1.2"].summary
    assert "\n\n" not in entries["1.2"].summary
    assert "负责统筹协调本行政区域内电子证照数据对接工作" in entries["1.4"].summary
    assert entries["1.4"].summary.count("\n\n") == 1  # two real paragraphs
    assert "全面提升移动政务服务能力和水平" in entries["2.11"].summary


def test_the_table_of_contents_is_ignored_and_the_body_wording_wins(imported_sample):
    entries = entries_by_number(imported_sample)
    assert entries["3.10"].title == "济南市高效融合线上线下服务资源，打造政务服务“智惠导服”平台"
    assert entries["3.9"].title == "忘带证件不用慌 郑州高新区首批 20 个事项实现“刷脸办”"
    assert not any("\t" in e.title or e.title.endswith("..") for e in entries.values())


def test_the_analysis_keeps_its_sub_headings_and_interprets_entry_2_3(imported_sample):
    entries = entries_by_number(imported_sample)
    analysis = entries["4.1"]
    assert analysis.kind == "analysis"
    assert analysis.interprets == entries["2.3"]
    assert analysis.summary.startswith("数字政府建设是创新政府治理理念和方式")
    headings = [line for line in analysis.body.split("\n\n") if line.startswith("#")]
    assert headings[:3] == ["## 一、起草背景", "## 二、总体考虑", "## 三、主要内容"]
    assert "### 1. 总体要求" in headings and "## 四、经验启示" in headings
    assert "### 4. 以应用场景为切入点增强数字政府建设的群众获得感" in headings
    assert "政府治理体系和治理能力现代化水平显著提升" in analysis.body
    assert entries["5.1"].kind == "briefing"


def test_themes_are_suggested_from_the_keyword_rules(imported_sample):
    entries = entries_by_number(imported_sample)
    for number in ("3.3", "3.12", "3.13"):
        assert "cross-province" in {t.slug for t in entries[number].themes.all()}, number
    for number in ("1.4", "2.9"):
        assert "e-licence" in {t.slug for t in entries[number].themes.all()}, number
    assert "social-assistance" in {t.slug for t in entries["5.1"].themes.all()}
    assert "cross-province" not in {t.slug for t in entries["2.11"].themes.all()}


def test_stats_are_computed_from_the_content_and_equal_the_introductions(imported_sample):
    stats = issue_as_data(imported_sample)["stats"]
    assert stats == {"policies": 16, "national": 2, "ministry": 2, "provincial": 12, "practices": 13}


def test_a_drafted_introduction_reads_like_the_institutes(imported_sample):
    intro = issue_draft_intro(issue=imported_sample)
    assert intro.startswith(
        "《数字政府动态——政务服务分册》8月刊选取国家级、部委、省级重要政策16条，"
        "其中国家级重磅政策2条，部委2条，省级政策12条"
    )
    assert "集成为13条创新实践" in intro
    assert "对《浙江省人民政府关于深化数字政府建设的实施意见》的原创解读" in intro
    assert "江苏" in intro  # the province with the most practices comes first among the places


def test_importing_the_same_file_twice_creates_nothing_new(imported_sample, sample_bytes):
    before = database_state()
    result = issue_import_newsletter(data=sample_bytes, source_name="again.txt")
    assert result.issue == imported_sample and not result.issue_created
    assert (result.entries_created, result.entries_updated, result.entries_unchanged) == (0, 0, 31)
    assert database_state() == before


def test_draft_import_keeps_the_issue_and_its_entries_as_drafts(sample_bytes):
    issue = issue_import_newsletter(data=sample_bytes, draft=True).issue
    assert issue.status == IssueStatus.DRAFT and issue.published_at is None
    assert set(issue.entries.values_list("status", flat=True)) == {Status.DRAFT}


def test_a_reimport_updates_changed_entries_in_place_and_keeps_their_history(imported_sample, sample_text):
    entry = entries_by_number(imported_sample)["2.1"]
    changed = sample_text.replace("提出了 34 条改革举措", "提出了 35 条改革举措")
    result = import_text(changed)
    assert (result.entries_created, result.entries_updated) == (0, 1)
    entry.refresh_from_db()
    assert "35 条改革举措" in entry.summary
    assert "34 条改革举措" in entry.history.earliest().summary


def test_the_command_reports_what_it_did(sample_bytes, tmp_path, capsys):
    path = tmp_path / "dgd.txt"
    path.write_bytes(sample_bytes)
    call_command("import_newsletter", str(path))
    call_command("import_newsletter", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "31 created" in out
    assert "4 + 12 + 13 + 1 + 1 entries (dry run" in out


# --- variants: the importer is not tuned to one file ---------------------------------------------


def without_toc(text):
    return text[: text.index("目 录")] + text[text.index("本期导读\n") :]


def test_crlf_line_endings_import_the_same(sample_text, sample_bytes):
    crlf = import_text(sample_text.replace("\n", "\r\n"))
    data = issue_as_data(crlf.issue)
    Issue.objects.all().delete()
    Entry.objects.all().delete()
    assert issue_as_data(issue_import_newsletter(data=sample_bytes).issue) == data


def test_no_table_of_contents_full_width_spaces_and_real_urls(sample_text):
    text = without_toc(sample_text).replace("】", "】\u3000")
    text = text.replace(
        "《北京市助企纾困优化营商环境若干措施》[政策原文](#)",
        "《北京市助企纾困优化营商环境若干措施》[政策原文](https://www.beijing.gov.cn/zhengce/202208/t1.html)",
    )
    issue = import_text(text).issue
    entries = entries_by_number(issue)
    assert entries["2.1"].source_url == "https://www.beijing.gov.cn/zhengce/202208/t1.html"
    assert entries["2.1"].title == "北京市助企纾困优化营商环境若干措施"
    assert entries["2.1"].issuer == "北京市人民政府"
    assert [r.code for r in entries["2.2"].regions.all()] == [320000]
    assert issue_as_data(issue)["stats"]["policies"] == 16


ANOTHER_MONTH = """数字政府动态

政务服务分册

2022年09月

第05期

本期导读

本期选取政策3条。

一、要闻速递

1.1、国务院办公厅印发《关于加快推进电子证照扩大应用领域和全国互通互认的意见》（国办发〔2022〕3号）[政策原文](http://www.gov.cn/zhengce/content/2022-01/20/content_5669431.htm)

意见提出，到2022年底，全国一体化政务服务平台**电子证照共享服务体系**基本建立。

二、政策广角

2.1、【上海】上海市人民政府印发《上海市全面推进“一网通办”改革实施方案》[政策原文](#)

方案要求深化“一网通办”改革，推动高频事项

“掌上办”。

2.2、广东省政务服务数据管理局发布《广东省数字政府改革建设2022年工作要点》[政策原文](#)

要点提出持续优化营商环境。

三、创新实践

3.1、【江苏&新点】苏州工业园区推出“一件事”集成服务

苏州工业园区推出企业开办“一件事”集成服务。

四、热点前瞻

4.1、国新办举行国务院政策例行吹风会

会议介绍了跨省通办进展。
"""


def test_another_month_with_other_counts_and_no_analysis():
    issue = import_text(ANOTHER_MONTH).issue
    data = issue_as_data(issue)
    assert (data["year"], data["month"], data["number"]) == (2022, 9, 5)
    assert [(s["key"], s["title"], len(s["entries"])) for s in data["sections"]] == [
        ("headlines", "一、要闻速递", 1),
        ("policies", "二、政策广角", 2),
        ("practices", "三、创新实践", 1),
        ("outlook", "四、热点前瞻", 1),
    ]
    assert data["stats"] == {"policies": 3, "national": 1, "ministry": 0, "provincial": 2, "practices": 1}
    headline, shanghai, guangdong = (e for s in data["sections"][:2] for e in s["entries"])
    assert headline["source_url"] == "http://www.gov.cn/zhengce/content/2022-01/20/content_5669431.htm"
    assert headline["doc_number"] == "国办发〔2022〕3号" and headline["level"] == "national"
    assert "e-licence" in headline["themes"]
    assert shanghai["summary"] == "方案要求深化“一网通办”改革，推动高频事项“掌上办”。"
    assert guangdong["regions"] == ["440000"]  # no tag: the region is read from the issuer
    practice = data["sections"][2]["entries"][0]
    assert (practice["regions"], practice["partners"]) == (["320000"], ["新点"])
    assert "one-matter" in practice["themes"]


# --- malformed input: a line number, a reason, and nothing written --------------------------------


def malformed_cases(sample_text):
    first_section = sample_text.index("一、要闻速递\n\n1.1、中共")
    return {
        "an entry before any section": (
            sample_text[:first_section]
            + "1.1、国务院印发《关于某事的通知》[政策原文](#)\n\n"
            + sample_text[first_section:],
            "1.1、国务院印发《关于某事的通知》",
            "appears before any section heading",
        ),
        "a duplicate entry number": (
            _replace_body(sample_text, "2.4、【河北】", "2.3、【河北】"),
            "2.3、【河北】",
            "duplicate entry number 2.3",
        ),
        "an unknown region tag": (
            _replace_body(sample_text, "2.1、【北京】", "2.1、【火星】"),
            "2.1、【火星】",
            "unknown region or partner «火星»",
        ),
        "an entry numbered for another section": (
            _replace_body(sample_text, "3.1、【江苏】", "2.13、【江苏】"),
            "2.13、【江苏】",
            "numbered for section 2 but stands in section 3",
        ),
        "an unknown section": (
            _replace_body(sample_text, "三、创新实践", "三、创新实验"),
            "三、创新实验",
            "unknown section «三、创新实验»",
        ),
    }


def _replace_body(text, old, new):
    """Replace ``old`` in the body only (after the table of contents)."""
    body = text.index("本期导读\n\n《数字政府动态")
    return text[:body] + text[body:].replace(old, new, 1)


@pytest.mark.parametrize(
    "case",
    [
        "an entry before any section",
        "a duplicate entry number",
        "an unknown region tag",
        "an entry numbered for another section",
        "an unknown section",
    ],
)
def test_malformed_files_name_the_line_and_write_nothing(case, sample_text, imported_sample, tmp_path):
    text, fragment, reason = malformed_cases(sample_text)[case]
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    before = database_state()
    with pytest.raises(CommandError) as error:
        call_command("import_newsletter", str(path))
    assert f"line {line_of(text, fragment)}: " in str(error.value)
    assert reason in str(error.value)
    assert database_state() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "line 1: the file is empty"),
        (b"\n\r\n  \n", "line 1: the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "line 3: this is not a text file"),
        ("政务服务分册\n2022年\n".encode() + b"\xff\xfe\xfa garbage\n", "line 3: the file is not UTF-8 text"),
        (
            "本期导读\n\n一、要闻速递\n\n1.1、国务院印发《意见》[政策原文](#)\n\n正文。\n".encode(),
            "line 1: the cover lacks",
        ),
        ("政务服务分册\n2022年\n08\n第04期\n\n本期导读\n\n导读。\n".encode(), "line 1: no entries found"),
    ],
)
def test_empty_binary_and_incomplete_files_are_refused(content, message, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    before = database_state()
    with pytest.raises(CommandError, match=message):
        call_command("import_newsletter", str(path))
    assert database_state() == before


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_newsletter", str(tmp_path / "nope.txt"))
