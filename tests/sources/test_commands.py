"""The three commands, the beat task and the admin's source pages (preview of the selectors)."""

import datetime
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from dgd.celery import app as celery_app
from sources.models import Candidate, Source, SourceKind
from tests.factories import EntryFactory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

KEYS = {
    "title",
    "url",
    "date",
    "issuer",
    "doc_number",
    "level",
    "regions",
    "themes",
    "sources",
    "duplicate_of",
    "status",
}


def write(tmp_path, data):
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def portal(site):
    site.listing(
        "/zcwj/",
        [
            ("浙江省人民政府关于深化数字政府建设的实施意见", "/art/1.html", "2022-05-12"),
            ("国务院关于加强数字政府建设的指导意见", "/art/2.html", "2022-06-23"),
        ],
    )
    site.detail(
        "/art/1.html",
        title="浙江省人民政府关于深化数字政府建设的实施意见",
        doc_number="浙政发〔2022〕20号",
        paragraphs=["为加快推进数字化改革，现提出如下实施意见。"],
    )
    site.detail(
        "/art/2.html",
        title="国务院关于加强数字政府建设的指导意见",
        doc_number="国发〔2022〕14号",
        paragraphs=["加强数字政府建设是适应新一轮科技革命和产业变革趋势的必然要求。"],
    )
    return [
        {
            "name": "浙江省人民政府",
            "url": site.url("/zcwj/"),
            "kind": "list",
            "region": 330000,
            "level": "provincial",
            "selectors": {"item": "ul.zcwj-list li", "title": "a", "link": "a", "date": "span.date"},
        },
        {"name": "中国政府网", "url": site.url("/rss.xml"), "kind": "feed", "region": None, "level": "national"},
    ]


def test_import_sources_is_idempotent_by_url(tmp_path, site):
    rows = portal(site)
    out = []
    call_command("import_sources", write(tmp_path, rows), stdout=_Collect(out))
    assert out[-1].strip() == "2 created, 0 updated"
    source = Source.objects.get(kind=SourceKind.LIST)
    assert source.region_id == 330000 and source.level == "provincial" and source.item_selector == "ul.zcwj-list li"
    rows[0]["name"] = "浙江省人民政府门户网站"
    call_command("import_sources", write(tmp_path, rows), stdout=_Collect(out))
    assert out[-1].strip() == "0 created, 2 updated"
    assert Source.objects.count() == 2 and Source.objects.get(pk=source.pk).name == "浙江省人民政府门户网站"


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x", "url": "javascript:alert(1)", "kind": "feed"},
        {"name": "x", "url": "https://a.gov.cn/", "kind": "page"},
        {"name": "x", "url": "https://a.gov.cn/", "kind": "list", "selectors": {}},
        {"name": "x", "url": "https://a.gov.cn/", "kind": "feed", "region": 999999},
        {"name": "x", "url": "https://a.gov.cn/", "kind": "feed", "level": "galactic"},
    ],
)
def test_import_sources_refuses_bad_rows_and_writes_nothing(tmp_path, bad):
    good = {"name": "y", "url": "https://b.gov.cn/rss", "kind": "feed"}
    with pytest.raises(CommandError, match="#2"):
        call_command("import_sources", write(tmp_path, [good, bad]))
    assert Source.objects.count() == 0


def test_import_sources_refuses_what_is_not_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(CommandError, match="not JSON"):
        call_command("import_sources", str(path))


def test_poll_sources_and_list_candidates(tmp_path, site):
    call_command("import_sources", write(tmp_path, portal(site)[:1]))
    entry = EntryFactory(title="关于加强数字政府建设的指导意见", doc_number="国发〔2022〕14号", issuer="国务院")
    source = Source.objects.get()
    dry = []
    call_command("poll_sources", "--source", str(source.pk), "--dry-run", stdout=_Collect(dry))
    assert "浙政发〔2022〕20号" in "".join(dry) and "dry run" in dry[-1]
    assert Candidate.objects.count() == 0
    call_command("poll_sources", "--source", str(source.pk))
    assert Candidate.objects.count() == 2
    out = []
    call_command("list_candidates", "--format", "json", stdout=_Collect(out))
    queue = json.loads("".join(out))
    assert [set(row) for row in queue] == [KEYS, KEYS]
    newest, older = queue
    assert newest["title"] == "国务院关于加强数字政府建设的指导意见" and newest["date"] == "2022-06-23"
    assert newest["duplicate_of"] == entry.pk and newest["status"] == "duplicate"
    assert newest["level"] == "national" and newest["regions"] == []
    assert older == {
        "title": "浙江省人民政府关于深化数字政府建设的实施意见",
        "url": site.url("/art/1.html"),
        "date": "2022-05-12",
        "issuer": "浙江省人民政府",
        "doc_number": "浙政发〔2022〕20号",
        "level": "provincial",
        "regions": [330000],
        "themes": ["digital-government"],
        "sources": [site.url("/art/1.html")],
        "duplicate_of": None,
        "status": "new",
    }


def test_poll_sources_names_an_unknown_source():
    with pytest.raises(CommandError, match="no source 9999"):
        call_command("poll_sources", "--source", "9999")


def test_the_beat_task_polls_the_due_sources(tmp_path, site, eager_celery):
    call_command("import_sources", write(tmp_path, portal(site)[:1]))
    assert "sources.tasks.poll_due_sources" in {e["task"] for e in celery_app.conf.beat_schedule.values()}
    from sources.tasks import poll_due_sources

    assert poll_due_sources.delay().get() == 1
    assert Candidate.objects.count() == 2
    source = Source.objects.get()
    assert source.last_status == "200 · 2" and source.next_poll_at > source.last_polled_at
    assert poll_due_sources.delay().get() == 0  # not due again before its interval


def test_the_admin_previews_what_the_selectors_extract(client, site, inbox_researcher, tmp_path):
    call_command("import_sources", write(tmp_path, portal(site)[:1]))
    source = Source.objects.get()
    client.force_login(inbox_researcher)
    change = client.get(reverse("admin:sources_source_change", args=[source.pk])).content.decode()
    url = reverse("admin:sources_source_preview", args=[source.pk])
    assert url in change
    page = client.get(url).content.decode()
    assert "浙江省人民政府关于深化数字政府建设的实施意见" in page and site.url("/art/2.html") in page
    assert "2022-05-12" in page or "2022年5月12日" in page
    tried = client.get(url, {"item_selector": "ul.nothing li", "link_selector": "a"})
    assert tried.context["count"] == 0
    broken = client.get(url, {"item_selector": "ul[", "link_selector": "a"})
    assert broken.context["error"]
    assert Source.objects.get().item_selector == "ul.zcwj-list li"  # trying selectors saves nothing


def test_the_admin_refuses_a_selector_that_does_not_parse(client, inbox_researcher):
    client.force_login(inbox_researcher)
    response = client.post(
        reverse("admin:sources_source_add"),
        {
            "name": "x",
            "url": "https://a.gov.cn/",
            "kind": "list",
            "item_selector": "li[",
            "interval": 60,
            "max_pages": 3,
        },
    )
    assert response.status_code == 200 and Source.objects.count() == 0
    assert response.context["adminform"].form.errors["item_selector"]


def test_the_source_list_shows_the_last_poll(client, site, inbox_researcher):
    site.page("/rss.xml", "错误", status=500)
    source = Source.objects.create(name="中国政府网", url=site.url("/rss.xml"), kind="feed")
    with pytest.raises(CommandError, match="HTTP 500"):
        call_command("poll_sources", "--source", str(source.pk))
    client.force_login(inbox_researcher)
    page = client.get(reverse("admin:sources_source_changelist")).content.decode()
    assert "HTTP 500" in page
    source.refresh_from_db()
    assert source.next_poll_at - source.last_polled_at == datetime.timedelta(minutes=120)


class _Collect:
    def __init__(self, lines):
        self.lines = lines

    def write(self, text):
        self.lines.append(text)

    def flush(self):
        pass


def test_the_poll_soon_action_makes_sources_due(client, inbox_researcher):
    from django.utils import timezone

    later = timezone.now() + datetime.timedelta(hours=1)
    source = Source.objects.create(name="x", url="https://a.gov.cn/rss", kind="feed", next_poll_at=later)
    client.force_login(inbox_researcher)
    client.post(reverse("admin:sources_source_changelist"), {"action": "poll_soon", "_selected_action": [source.pk]})
    assert list(Source.objects.due(timezone.now())) == [source]


def test_list_candidates_reads_the_queue_in_four_queries(django_assert_num_queries):
    from sources.models import Sighting
    from sources.selectors import candidates_as_dicts

    for n in range(5):
        candidate = Candidate.objects.create(title=f"关于第{n}件事的通知", url=f"https://a.gov.cn/{n}.html")
        candidate.regions.set([330000, 330100])
        Sighting.objects.create(candidate=candidate, url=candidate.url, url_key=f"a.gov.cn/{n}.html")
    with django_assert_num_queries(4):  # candidates, regions, themes, sightings
        rows = candidates_as_dicts()
    assert len(rows) == 5 and rows[0]["regions"] == [330000, 330100] and rows[0]["sources"]
