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
