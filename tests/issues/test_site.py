"""The public site (home, archive, issue page, PDF, feed) and the staff previews."""

import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from issues.models import IssueStatus
from issues.selectors import issue_as_data
from tests.factories import IssueEntryFactory, IssueFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def draft_issue(db):
    issue = IssueFactory(year=2022, month=9, number=5, status=IssueStatus.DRAFT)
    IssueEntryFactory(issue=issue, entry__title="仅在草稿中出现的政策标题")
    return issue


def pdf_text(content):
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


@pytest.mark.embedded
def test_home_and_archive_show_published_issues_only(client, imported_sample, draft_issue):
    home = client.get("/")
    assert home.status_code == 200
    page = home.content.decode()
    assert "第04期" in page and "选取国家级、部委、省级重要政策16条" in page
    assert "/issues/2022-08/" in page
    archive = client.get("/issues/").content.decode()
    assert "2022年08月" in archive
    assert "2022年09月" not in archive and "2022年09月" not in page


@pytest.mark.embedded
def test_the_issue_page_shows_every_entry_with_its_tags_and_links(
    client, imported_sample, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = client.get("/issues/2022-08/")
    assert response.status_code == 200
    page = response.content.decode()
    data = issue_as_data(imported_sample)
    for section in data["sections"]:
        assert section["title"] in page
        for entry in section["entries"]:
            assert entry["title"] in page.replace("&amp;", "&").replace("&quot;", '"'), entry["number"]
    assert "【河南&amp;新点】" in page and "【重庆&amp;四川】" in page
    assert "<strong>减轻村级组织工作事务负担" in page
    assert '<h4 class="sub-heading">一、起草背景</h4>' in page
    assert 'href="#entry-2-3"' in page  # the analysis links to the policy it interprets
    assert 'href="/issues/2022-08/pdf/"' in page


@pytest.mark.embedded
def test_drafts_and_unknown_months_are_not_found(client, draft_issue):
    assert client.get("/issues/2022-09/").status_code == 404
    assert client.get("/issues/2022-09/pdf/").status_code == 404
    assert client.get("/issues/2022-13/").status_code == 404
    assert client.get("/issues/latest/").status_code == 404


@pytest.mark.embedded
def test_the_feed_is_valid_atom_listing_published_issues(client, imported_sample, draft_issue):
    response = client.get("/issues/feed/")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["政务服务分册 2022年08月 第04期"]
    assert entries[0].find(f"{ATOM}link").get("href").endswith("/issues/2022-08/")
    assert "**" not in entries[0].find(f"{ATOM}summary").text


def test_the_pdf_holds_every_title_and_a_paged_table_of_contents(client, imported_sample):
    response = client.get("/issues/2022-08/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="dgd-zhengwu-2022-08.pdf"' in response["Content-Disposition"]
    text = pdf_text(response.content)
    flat = re.sub(r"\s+", "", text)
    titles = [e["title"] for s in issue_as_data(imported_sample)["sections"] for e in s["entries"]]
    assert len(titles) == 31
    for title in titles:
        assert re.sub(r"\s+", "", title) in flat, title
    toc = text[text.index("目") : text.index("一、要闻速递", text.index("本期导读") + 10)]
    assert re.search(r"本期导读\s*\.{5,}\s*\d+", toc)
    page_numbers = [
        int(n) for n in re.findall(r"\.{5,}\s*(\d+)\s*$", text[: text.index("1.1、中共中央办公厅", 2000)], re.M)
    ]
    assert page_numbers and page_numbers == sorted(page_numbers) and page_numbers[0] >= 2
    assert client.get("/issues/2022-08/pdf/").content == response.content  # rendered once, kept


@pytest.mark.embedded
@pytest.mark.parametrize("rendition", ["", "pdf/", "text/", "json/"])
def test_previews_are_for_staff_only(client, draft_issue, sales, rendition):
    url = f"/issues/preview/{draft_issue.pk}/{rendition}"
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(sales)
    assert client.get(url).status_code == 302  # sales are not staff


@pytest.mark.embedded
def test_staff_preview_every_rendition_of_a_draft(client, draft_issue, researcher):
    client.force_login(researcher)
    page = client.get(f"/issues/preview/{draft_issue.pk}/").content.decode()
    assert "仅在草稿中出现的政策标题" in page
    assert 'class="banner preview"' in page
    text = client.get(f"/issues/preview/{draft_issue.pk}/text/").content.decode()
    assert "仅在草稿中出现的政策标题" in text
    data = client.get(f"/issues/preview/{draft_issue.pk}/json/").json()
    assert data["status"] == "draft" and data["month"] == 9
    assert client.get(reverse("issues:preview", args=[draft_issue.pk, "pdf"]))["Content-Type"] == "application/pdf"


# --- Readers: previous/next, the archive search, the subscribe prompt, the footer, the feed's page ------------


def publish(issue):
    """Take a draft through the workflow: a researcher submits, a chief editor approves and publishes."""
    from issues.workflow import issue_approve, issue_publish, issue_submit
    from tests.factories import UserFactory

    chief = UserFactory(role="chief_editor")
    issue_submit(issue=issue, by=UserFactory(role="researcher"))
    issue_approve(issue=issue, by=chief)
    issue_publish(issue=issue, by=chief)
    return issue


@pytest.mark.embedded
def test_an_issue_links_the_previous_and_next_published_issue_and_prompts_to_subscribe(
    client, imported_sample, draft_issue, eager_celery
):
    august = client.get("/issues/2022-08/").content.decode()
    assert 'rel="next"' not in august and 'rel="prev"' not in august  # September is a draft: not linked
    assert 'class="subscribe-prompt"' in august and f'href="{reverse("subscribers:subscribe")}"' in august
    publish(draft_issue)
    august = client.get("/issues/2022-08/").content.decode()
    september = client.get("/issues/2022-09/").content.decode()
    assert re.search(r'rel="next" href="/issues/2022-09/"', august) and 'rel="prev"' not in august
    assert re.search(r'rel="prev" href="/issues/2022-08/"', september) and 'rel="next"' not in september


@pytest.mark.embedded
def test_no_empty_source_label_for_an_entry_without_a_link(client, imported_sample):
    page = client.get("/issues/2022-08/").content.decode()
    assert "政策原文" not in page and "source missing" not in page  # the sample's entries have no link


def search(client, query):
    response = client.get(reverse("issues:search"), {"q": query})
    assert response.status_code == 200
    return response


@pytest.mark.embedded
def test_the_archive_search_finds_entries_of_published_issues_only(client, imported_sample, draft_issue):
    page = search(client, "跨省通办 靖江").content.decode()
    assert "靖江政务服务“跨省通办”向基层延伸" in page and 'href="/issues/2022-08/#entry-3-3"' in page
    assert "三、创新实践" in page
    assert "仅在草稿中出现的政策标题" not in search(client, "仅在草稿中出现").content.decode()
    assert search(client, "仅在草稿中出现").context["results"] == []
    intro = search(client, "原创解读").context["results"]
    assert len(intro) == 1 and "原创解读" in intro[0]["intro"]
    assert search(client, "政务服务分册 第04期").context["results"][0]["issue"] == imported_sample  # the title
    assert search(client, "").context["results"] == []


@pytest.mark.embedded
def test_the_archive_search_escapes_what_it_is_given(client, imported_sample):
    page = search(client, '<script>alert("x")</script>').content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    form = client.get("/issues/").content.decode()
    assert 'action="/issues/search/"' in form and 'method="get"' in form


def test_the_archive_search_reads_the_archive_in_a_constant_number_of_queries(
    client, imported_sample, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):
        search(client, "跨省通办")


@pytest.mark.embedded
def test_the_footer_shows_operator_contact_privacy_and_icp_from_settings(client, settings, imported_sample):
    settings.DGD_OPERATOR = "某某研究院"
    settings.DGD_CONTACT_EMAIL = "contact@example.cn"
    settings.DGD_ICP_NUMBER = "京ICP备12345678号"
    for url in ("/", "/issues/", "/issues/2022-08/", reverse("subscribers:subscribe"), reverse("issues:privacy")):
        footer = client.get(url).content.decode().split('<footer class="site-footer">', 1)[1]
        assert "某某研究院" in footer and "contact@example.cn" in footer
        assert "京ICP备12345678号" in footer and 'href="https://beian.miit.gov.cn/"' in footer
        assert f'href="{reverse("issues:privacy")}"' in footer


@pytest.mark.embedded
def test_the_privacy_notice_says_purpose_collection_retention_contact_and_withdrawal(client, settings):
    settings.PRIVACY_NOTICE_VERSION = "2026-11-x"
    page = client.get(reverse("issues:privacy")).content.decode()
    for words in ("个人信息保护法", "我们收集的信息", "使用目的", "保存期限", "撤回同意", "删除", "2026-11-x"):
        assert words in page, words
    assert f"mailto:{settings.DGD_CONTACT_EMAIL}" in page


@pytest.mark.embedded
def test_the_feed_names_its_stylesheet_and_stays_valid_atom(client, imported_sample):
    response = client.get("/issues/feed/")
    [instruction] = re.findall(rb"<\?xml-stylesheet ([^?]*)\?>", response.content)
    assert b'href="/issues/feed.xsl"' in instruction and b'type="text/xsl"' in instruction
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed" and len(root.findall(f"{ATOM}entry")) == 1
    stylesheet = client.get("/issues/feed.xsl")
    assert stylesheet["Content-Type"].startswith("text/xsl")
    xsl = ET.fromstring(stylesheet.content)
    assert xsl.tag == "{http://www.w3.org/1999/XSL/Transform}stylesheet"


@pytest.mark.embedded
def test_the_header_rss_link_opens_a_page_for_people(client, imported_sample):
    home = client.get("/").content.decode()
    assert f'href="{reverse("issues:feed_page")}">RSS' in home
    assert 'rel="alternate" type="application/atom+xml"' in home  # feed readers still find the feed itself
    page = client.get(reverse("issues:feed_page")).content.decode()
    assert 'value="http://testserver/issues/feed/"' in page and "政务服务分册 2022年08月 第04期" in page


@pytest.mark.embedded
def test_a_signed_in_user_sees_their_name_and_a_sign_out_button(client, sales):
    assert "user-tools" not in client.get("/").content.decode()
    client.force_login(sales)
    page = client.get("/").content.decode()
    assert sales.username in page and f'action="{reverse("logout")}"' in page and "退出登录" in page
