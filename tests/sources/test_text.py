"""Reading a page's text: 文号, dates, titles, issuers, levels, summaries, URLs, encodings (no database)."""

import datetime

import pytest

from sources.dedup import Known, bigrams, jaccard, title_core
from sources.fetching import decode_html
from sources.parsing import parse_list
from sources.services import own_doc_number
from sources.text import (
    doc_number_key,
    parse_date,
    parse_doc_number,
    parse_issued_on,
    split_title,
    suggest_level,
    summary_draft,
    url_key,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("浙政发〔2022〕20号", "浙政发〔2022〕20号"),
        ("国办发[2022]14号", "国办发〔2022〕14号"),
        ("苏政办发（2021）3号", "苏政办发〔2021〕3号"),
        ("国发〔2022〕第05号", "国发〔2022〕5号"),
        ("文号：京政发【2023】1号", "京政发〔2023〕1号"),
        ("现将浙政办发〔2022〕41号文件转发给你们", "浙政办发〔2022〕41号"),
        ("粤府函 〔2021〕 300 号", "粤府函〔2021〕300号"),
        ("浙政发﹝2022﹞20号", "浙政发〔2022〕20号"),
        ("闽政〔２０２２〕第２０号", "闽政〔2022〕20号"),
        ("川府发［2022］8号文", "川府发〔2022〕8号"),
        ("关于推进政务服务的通知", ""),
    ],
)
def test_doc_numbers_are_found_and_normalised(text, expected):
    assert parse_doc_number(text) == expected
    assert doc_number_key(text) == expected or not expected


def test_a_page_s_own_number_comes_before_the_ones_it_cites():
    text = "关于某事的通知\n浙政发〔2022〕20号\n各市人民政府：\n根据国发〔2021〕1号文件精神，现通知如下。"
    assert own_doc_number("关于某事的通知", text) == "浙政发〔2022〕20号"
    assert own_doc_number("国务院关于某事的通知（国发〔2022〕5号）", text) == "国发〔2022〕5号"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-05-10", (2022, 5, 10)),
        ("2022/5/1", (2022, 5, 1)),
        ("2022年5月10日", (2022, 5, 10)),
        ("2022年08月05日 10:30", (2022, 8, 5)),
        ("２０２２年８月５日", (2022, 8, 5)),
        ("二〇二二年八月五日", (2022, 8, 5)),
        ("二○二一年十二月三十一日", (2021, 12, 31)),
        ("见二〇二二年二月三十日和2022-1-2", (2022, 1, 2)),  # no 30 February: the next date
        ("2022.13.01", None),
    ],
)
def test_dates(text, expected):
    assert parse_date(text) == (datetime.date(*expected) if expected else None)


def test_the_issued_on_date_is_the_signature_s_or_the_labelled_one():
    assert parse_issued_on("正文。\n浙江省人民政府\n2022年5月10日\n") == datetime.date(2022, 5, 10)
    assert parse_issued_on("成文日期：2022-04-30 发布日期：2022-05-10") == datetime.date(2022, 4, 30)
    assert parse_issued_on("2022年5月10日起施行。") is None
    signed = "正文。\n浙江省人民政府办公厅\n二〇二二年五月十日\n（此件公开发布）"
    assert parse_issued_on(signed) == datetime.date(2022, 5, 10)


def test_titles_are_taken_apart_as_the_catalogue_files_a_policy():
    assert split_title("浙江省人民政府关于印发《浙江省数字政府建设“十四五”规划》的通知") == (
        "浙江省人民政府",
        "印发",
        "浙江省数字政府建设“十四五”规划",
    )
    assert split_title("国务院办公厅关于加快推进电子证照扩大应用领域的意见") == (
        "国务院办公厅",
        "",
        "关于加快推进电子证照扩大应用领域的意见",
    )
    assert split_title("关于深化数字政府建设的实施意见") == ("", "", "关于深化数字政府建设的实施意见")
    assert split_title("浙江省：关于做好2022年工作的通知")[0] == ""  # not an issuing body's name


@pytest.mark.parametrize(
    ("issuer", "level"),
    [
        ("国务院办公厅", "national"),
        ("中共中央办公厅 国务院办公厅", "national"),
        ("国家数据局", "ministry"),
        ("工业和信息化部", "ministry"),
        ("市场监管总局", "ministry"),
        ("浙江省人民政府", "provincial"),
        ("广西壮族自治区人民政府办公厅", "provincial"),
        ("北京市人民政府", "provincial"),
        ("北京市海淀区人民政府", "county"),
        ("杭州市人民政府办公厅", "municipal"),
        ("浙江省杭州市数据资源管理局", "municipal"),
        ("余杭区人民政府", "county"),
        ("某某单位", "x"),
    ],
)
def test_levels_from_the_issuer(issuer, level):
    assert suggest_level(issuer, "x") == level


def test_the_summary_draft_is_the_first_sentences_of_prose():
    text = (
        "浙江省人民政府关于深化数字政府建设的实施意见\n"
        "发布日期：2022-05-12 来源：浙江省人民政府\n"
        "浙政发〔2022〕20号\n"
        "各市、县（市、区）人民政府，省政府直属各单位：\n"
        "为深入贯彻落实党中央、国务院决策部署，加快推进数字化改革，现提出如下意见。\n"
        "一、总体要求\n"
        "坚持整体智治。推动政府履职全面数字化。打造一网通办升级版。再一句。\n"
    )
    assert summary_draft(text, title="浙江省人民政府关于深化数字政府建设的实施意见") == (
        "为深入贯彻落实党中央、国务院决策部署，加快推进数字化改革，现提出如下意见。坚持整体智治。推动政府履职全面数字化。"
    )
    assert summary_draft("") == ""


def test_canonical_urls():
    assert url_key("http://www.gov.cn/zhengce/index.html#top") == url_key("https://gov.cn/zhengce/")
    assert url_key("https://a.gov.cn/x?id=1&utm_source=wx&b=2") == url_key("https://A.gov.cn/x?b=2&id=1")
    assert url_key("https://a.gov.cn/x?id=1") != url_key("https://a.gov.cn/x?id=2")
    assert url_key("https://a.gov.cn:8443/x") != url_key("https://a.gov.cn/x")
    assert url_key("http://a.gov.cn/zwgk/政策/") == url_key("https://a.gov.cn/zwgk/%e6%94%bf%E7%AD%96")
    assert url_key("http://a.gov.cn/col/index.jhtml?utm_medium=x") == url_key("https://a.gov.cn/col")
    assert url_key("http://a.gov.cn/art/1.html?id=1") != url_key("http://a.gov.cn/art/1.html?id=1&page=2")


def test_encodings_gbk_gb2312_and_utf8():
    text = "浙江省人民政府关于深化数字政府建设的实施意见，镕"  # 镕 is in GBK, not in GB2312
    html = f"<html><head><title>{text}</title></head><body><p>{text}</p></body></html>"
    assert text in decode_html(html.encode("gbk"), "text/html; charset=gb2312")
    meta = html.replace("<head>", '<head><meta charset="GBK">')
    assert text in decode_html(meta.encode("gbk"), "text/html")
    assert text in decode_html(html.encode("utf-8"), "text/html")
    undeclared = (html * 5).encode("gb18030")
    assert text in decode_html(undeclared, "")


def test_a_server_s_wrong_or_default_charset_gives_way_to_what_the_page_says():
    text = "浙江省人民政府关于深化数字政府建设的实施意见"
    gbk = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head>{text}</html>'
    assert text in decode_html(gbk.encode("gbk"), "text/html; charset=utf-8")  # utf-8 does not decode it
    assert text in decode_html(gbk.encode("gbk"), "text/html; charset=ISO-8859-1")  # Apache's default
    assert decode_html(b"\xef\xbb\xbf" + text.encode(), "text/html; charset=gbk") == text  # a BOM wins
    late = f"<html><head><script>{'var a = 1;' * 1000}</script><meta charset=gbk></head>{text}</html>"
    assert text in decode_html(late.encode("gbk"), "text/html")  # the <meta> 10 KB in


def test_list_pages_with_default_selectors_and_relative_links():
    html = (
        '<ul class="l"><li><a href="/art/1.html">关于甲的通知</a> 2022-01-02</li>'
        '<li><a href="javascript:void(0)">坏链接</a></li><li>无链接</li><li><a href="#" onclick="go(2)">自身</a></li>'
        '</ul><a class="n" href="?page=2">下一页</a>'
    )
    items, next_url = parse_list(html, "https://a.gov.cn/col/", item="ul.l li", next_page="a.n")
    assert [(i.title, i.url, i.date) for i in items] == [
        ("关于甲的通知", "https://a.gov.cn/art/1.html", datetime.date(2022, 1, 2))
    ]
    assert next_url == "https://a.gov.cn/col/?page=2"


def test_list_pages_laid_out_as_tables_with_titles_cut_short():
    html = (
        "<table class='t'><tr><th>标题</th><th>日期</th></tr>"
        "<tr><td><a href='../art/2022/8/5/1.shtml' title='浙江省人民政府办公厅关于印发《某某实施方案》的通知'>"
        "浙江省人民政府办公厅关于印发《某某…</a></td><td>[2022年8月5日]</td></tr>"
        "<tr><td><a href='./2.html'>关于乙的通知</a></td><td>２０２２/８/６</td></tr></table>"
    )
    items, next_url = parse_list(html, "https://a.gov.cn/col/col1/index.html", item="table.t tr")
    assert [(i.title, i.url, i.date) for i in items] == [
        (
            "浙江省人民政府办公厅关于印发《某某实施方案》的通知",
            "https://a.gov.cn/col/art/2022/8/5/1.shtml",
            datetime.date(2022, 8, 5),
        ),
        ("关于乙的通知", "https://a.gov.cn/col/col1/2.html", datetime.date(2022, 8, 6)),
    ]
    assert next_url is None


def test_near_duplicate_titles():
    same = Known("a", "浙江省人民政府关于深化数字政府建设的实施意见", "")
    reprint = Known("b", "关于深化数字政府建设的实施意见（全文）", "")
    other = Known("c", "关于深化数字社会建设的指导意见", "")
    assert title_core("《关于深化数字政府建设的实施意见》") == same.title
    assert jaccard(same.title_set, reprint.title_set) >= 0.85
    assert jaccard(same.title_set, other.title_set) < 0.85
    assert bigrams("ab") == {"ab"} and bigrams("") == set()
