"""Polling real HTTP on loopback: feeds, list pages, encodings, robots.txt, conditional GET, errors, pace."""

import datetime
import itertools
import socket
import ssl
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from policies.models import Level
from sources.fetching import Fetcher, FetchError, checked_address
from sources.models import Candidate, CandidateStatus, Host, Sighting, Source, SourceKind
from sources.services import sources_poll
from tests.factories import EntryFactory
from tests.sources.conftest import Route

pytestmark = pytest.mark.django_db
TLS = Path(__file__).with_name("tls")

E_LICENCE = "国务院办公厅关于加快推进电子证照扩大应用领域和全国互通互认的意见"
E_LICENCE_TEXT = [
    "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：",
    "电子证照是支撑政府服务运行的重要基础数据。为加快推进电子证照扩大应用领域和全国互通互认，经国务院同意，现提出以下意见。",
    "一、总体要求。以习近平新时代中国特色社会主义思想为指导，全面推进电子证照应用，实现企业和群众常用证照电子化。",
    "二、重点任务。推动电子证照在政务服务、社会化场景中的应用，加强电子证照数据共享和互通互认。",
]
ZJ_TITLE = "浙江省人民政府关于深化数字政府建设的实施意见"
ZJ_TEXT = [
    "各市、县（市、区）人民政府，省政府直属各单位：",
    "为深入贯彻落实党中央、国务院关于加强数字政府建设的决策部署，加快推进数字化改革，现提出如下实施意见。",
    "一、总体要求。坚持整体智治，推动政府履职全面数字化，打造一网通办升级版。",
    "二、主要任务。推进数据资源共享，深化营商环境改革。",
]


def feed_source(site, path="/rss.xml", **fields):
    defaults = {"name": "中国政府网", "kind": SourceKind.FEED, "level": Level.NATIONAL}
    return Source.objects.create(url=site.url(path), **{**defaults, **fields})


def list_source(site, path="/col/zcwj/index.html", **fields):
    defaults = {
        "name": "浙江省人民政府",
        "kind": SourceKind.LIST,
        "level": Level.PROVINCIAL,
        "region_id": 330000,
        "item_selector": "ul.zcwj-list li",
        "link_selector": "a",
        "date_selector": "span.date",
        "next_selector": "a.next",
    }
    return Source.objects.create(url=site.url(path), **{**defaults, **fields})


@pytest.fixture
def national(site):
    site.rss(
        "/rss.xml",
        [
            (E_LICENCE, site.url("/zhengce/content/2022-01/20/content_5669431.htm"), "2022-01-20"),
            (
                "国务院关于加强数字政府建设的指导意见",
                site.url("/zhengce/content/2022-06/23/content_5697299.htm"),
                "2022-06-23",
            ),
        ],
        etag='"feed-v1"',
    )
    site.detail(
        "/zhengce/content/2022-01/20/content_5669431.htm",
        title=E_LICENCE,
        doc_number="国办发〔2022〕3号",
        paragraphs=E_LICENCE_TEXT,
        issuer="国务院办公厅",
        date="2022年1月20日",
    )
    site.detail(
        "/zhengce/content/2022-06/23/content_5697299.htm",
        title="国务院关于加强数字政府建设的指导意见",
        doc_number="国发〔2022〕14号",
        paragraphs=["各省、自治区、直辖市人民政府：", "加强数字政府建设是适应新一轮科技革命和产业变革趋势的必然要求。"],
        issuer="国务院",
        date="2022年6月6日",
    )
    return site


@pytest.fixture
def zhejiang(sites):
    """A provincial portal in GBK: two list pages, a reprint of the State Council's notice, a forbidden path."""
    site = sites()
    site.robots("User-agent: *\nDisallow: /private/\n")
    site.listing(
        "/col/zcwj/index.html",
        [
            (ZJ_TITLE, "/art/2022/5/12/art_1229019364_2404392.html", "2022-05-12"),
            (E_LICENCE, "/art/2022/1/21/art_1229019364_2389001.html", "2022-01-21"),
        ],
        next_path="/col/zcwj/index_2.html",
        encoding="gbk",
        declare="meta",
    )
    site.listing(
        "/col/zcwj/index_2.html",
        [
            ("杭州市人民政府办公厅关于推进政务服务一网通办的通知", "/art/2022/1/5/art_1.html", "2022-01-05"),
            ("内部文件目录", "/private/secret.html", "2022-01-04"),
        ],
        encoding="gbk",
        declare="meta",
    )
    site.detail(
        "/art/2022/5/12/art_1229019364_2404392.html",
        title=ZJ_TITLE,
        doc_number="浙政发〔2022〕20号",
        paragraphs=ZJ_TEXT,
        issuer="浙江省人民政府",
        date="2022年5月10日",
        encoding="gbk",
        declare="meta",
    )
    site.detail(
        "/art/2022/1/21/art_1229019364_2389001.html",
        title=E_LICENCE,
        doc_number="国办发〔2022〕3号",
        paragraphs=E_LICENCE_TEXT,
        issuer="国务院办公厅",
        date="2022年1月20日",
        encoding="gb2312",
        declare="header",
    )
    site.detail(
        "/art/2022/1/5/art_1.html",
        title="杭州市人民政府办公厅关于推进政务服务一网通办的通知",
        doc_number="杭政办函〔2022〕1号",
        paragraphs=["各区、县（市）人民政府：", "为推进政务服务一网通办，提升群众办事便利度，现就有关事项通知如下。"],
        issuer="杭州市人民政府办公厅",
        date="2022年1月5日",
        encoding="gbk",
    )
    site.detail("/private/secret.html", title="内部文件目录", paragraphs=["不应被抓取。"], encoding="gbk")
    return site


def test_a_feed_brings_candidates_with_their_fields(national):
    source = feed_source(national)
    (result,) = sources_poll()
    assert result.error == "" and len(result.new) == 2
    candidate = Candidate.objects.get(title=E_LICENCE)
    assert candidate.url == national.url("/zhengce/content/2022-01/20/content_5669431.htm")
    assert candidate.published_on == datetime.date(2022, 1, 20)
    assert candidate.issued_on == datetime.date(2022, 1, 20)
    assert candidate.issuer == "国务院办公厅"
    assert candidate.doc_number == "国办发〔2022〕3号"
    assert candidate.level == Level.NATIONAL
    assert list(candidate.regions.all()) == []
    assert {t.slug for t in candidate.themes.all()} >= {"e-licence", "data-sharing"}
    assert candidate.summary.startswith("电子证照是支撑政府服务运行的重要基础数据。")
    assert "二、重点任务" in candidate.text and "网站标识码" not in candidate.text
    assert candidate.status == CandidateStatus.NEW
    assert [s.source_id for s in candidate.sightings.all()] == [source.pk]
    source.refresh_from_db()
    assert source.last_status == "200 · 2" and source.failures == 0 and source.last_error == ""
    assert source.etag == '"feed-v1"'
    assert source.next_poll_at > timezone.now() + datetime.timedelta(minutes=59)


def test_an_atom_feed_is_read_too(site):
    site.atom("/atom.xml", [("国务院关于加强数字政府建设的指导意见", site.url("/a.htm"), "2022-06-23")])
    site.detail(
        "/a.htm", title="国务院关于加强数字政府建设的指导意见", paragraphs=["正文第一句话在这里，说明数字政府建设。"]
    )
    feed_source(site, "/atom.xml")
    sources_poll()
    candidate = Candidate.objects.get()
    assert candidate.published_on == datetime.date(2022, 6, 23)
    assert {t.slug for t in candidate.themes.all()} == {"digital-government"}


def test_a_list_page_in_gbk_is_followed_to_its_next_page_and_its_details_read(zhejiang):
    source = list_source(zhejiang)
    sources_poll()
    titles = set(Candidate.objects.values_list("title", flat=True))
    assert titles == {ZJ_TITLE, E_LICENCE, "杭州市人民政府办公厅关于推进政务服务一网通办的通知", "内部文件目录"}
    zj = Candidate.objects.get(title=ZJ_TITLE)
    assert zj.doc_number == "浙政发〔2022〕20号"  # read from a GBK page declared in its <meta>
    assert zj.issuer == "浙江省人民政府" and zj.level == Level.PROVINCIAL
    assert [r.code for r in zj.regions.all()] == [330000]
    assert zj.published_on == datetime.date(2022, 5, 12) and zj.issued_on == datetime.date(2022, 5, 10)
    assert "一网通办升级版" in zj.text
    assert {t.slug for t in zj.themes.all()} >= {"digital-government"}
    reprint = Candidate.objects.get(title=E_LICENCE)
    assert reprint.doc_number == "国办发〔2022〕3号"  # labelled gb2312 in the header, decoded as GB18030
    assert reprint.level == Level.NATIONAL and list(reprint.regions.all()) == []  # not tagged with the portal's 浙江
    hangzhou = Candidate.objects.get(title__startswith="杭州市")
    assert hangzhou.level == Level.MUNICIPAL and [r.code for r in hangzhou.regions.all()] == [330100]
    assert hangzhou.doc_number == "杭政办函〔2022〕1号"
    assert zhejiang.hits_for("/col/zcwj/index_2.html"), "the next page was read"
    source.refresh_from_db()
    assert source.last_status == "200 · 4"


def test_robots_txt_is_honoured(zhejiang):
    list_source(zhejiang)
    sources_poll()
    assert zhejiang.hits_for("/robots.txt")
    assert zhejiang.hits_for("/private/secret.html") == []  # never asked for
    forbidden = Candidate.objects.get(title="内部文件目录")
    assert forbidden.text == ""  # known from the list only
    forbidden_list = list_source(zhejiang, "/private/list.html", name="内部")
    (result,) = sources_poll(source_ids=[forbidden_list.pk])
    assert result.status == "robots.txt"
    assert zhejiang.hits_for("/private/list.html") == []
    assert len(zhejiang.hits_for("/robots.txt")) == 1  # read once, kept on the host


def test_requests_name_the_institute_and_wait_their_turn_on_a_host(zhejiang, settings):
    settings.SOURCES_HOST_DELAY = 0.2
    list_source(zhejiang)
    sources_poll()
    hits = sorted(zhejiang.hits, key=lambda h: h.at)
    assert len(hits) >= 6
    assert all("DGD-PolicyMonitor" in h.headers["user-agent"] and "Institute" in h.headers["user-agent"] for h in hits)
    for before, after in itertools.pairwise(hits):
        assert after.at >= before.done + 0.19, "one request at a time, with the pause between them"
    host = Host.objects.get(name=zhejiang.root)
    assert host.requests == len(hits) and host.leased_until is None


def test_conditional_get_answers_304_and_nothing_is_read_again(national):
    source = feed_source(national)
    sources_poll()
    requests_before = len(national.hits)
    (result,) = sources_poll(source_ids=[source.pk])
    assert result.status == "304"
    last = national.hits[-1]
    assert last.path == "/rss.xml" and last.headers["if-none-match"] == '"feed-v1"'
    assert len(national.hits) == requests_before + 1
    source.refresh_from_db()
    assert source.last_status == "304" and Candidate.objects.count() == 2


def test_last_modified_is_sent_back(site):
    stamp = "Thu, 12 May 2022 08:00:00 GMT"
    site.rss("/rss.xml", [], last_modified=stamp)
    source = feed_source(site)
    sources_poll()
    sources_poll(source_ids=[source.pk])
    assert site.hits_for("/rss.xml")[-1].headers["if-modified-since"] == stamp
    source.refresh_from_db()
    assert source.last_status == "304"


def test_errors_back_off_exponentially_and_show_on_the_source(site):
    site.page("/rss.xml", "服务器错误", status=500)
    source = feed_source(site, interval=30)
    before = timezone.now()
    sources_poll()
    source.refresh_from_db()
    assert source.failures == 1 and source.last_status == "HTTP 500" and "rss.xml" in source.last_error
    assert before + datetime.timedelta(minutes=59) < source.next_poll_at < before + datetime.timedelta(minutes=62)
    assert not Source.objects.due(timezone.now()).exists()
    sources_poll(source_ids=[source.pk])
    source.refresh_from_db()
    assert source.failures == 2
    assert source.next_poll_at > timezone.now() + datetime.timedelta(minutes=119)
    site.rss("/rss.xml", [])
    sources_poll(source_ids=[source.pk])
    source.refresh_from_db()
    assert source.failures == 0 and source.last_error == "" and source.last_status == "200 · 0"


def test_a_slow_page_times_out(site, settings):
    settings.SOURCES_READ_TIMEOUT = 0.3
    site.rss("/rss.xml", [], delay=1.5)
    source = feed_source(site)
    (result,) = sources_poll()
    assert result.status == "timeout"
    source.refresh_from_db()
    assert source.failures == 1 and source.last_status == "timeout"
    assert Host.objects.get(name=site.root).leased_until is None  # the host's turn is given back


def test_a_slow_detail_page_leaves_the_candidate_with_what_the_feed_said(site, settings):
    settings.SOURCES_READ_TIMEOUT = 0.3
    site.rss("/rss.xml", [("国务院关于加强数字政府建设的指导意见", site.url("/slow.htm"), "2022-06-23")])
    site.detail("/slow.htm", title="x", paragraphs=["x"], delay=1.5)
    feed_source(site)
    (result,) = sources_poll()
    assert result.error == ""
    candidate = Candidate.objects.get()
    assert candidate.title == "国务院关于加强数字政府建设的指导意见" and candidate.text == ""


def test_a_reprint_on_another_site_is_one_candidate_with_two_sources(national, zhejiang):
    feed = feed_source(national)
    portal = list_source(zhejiang)
    sources_poll()
    candidate = Candidate.objects.get(title=E_LICENCE)
    assert {s.source_id for s in candidate.sightings.all()} == {feed.pk, portal.pk}
    assert Candidate.objects.filter(doc_key="国办发〔2022〕3号").count() == 1


def test_a_near_duplicate_title_without_a_number_joins_the_candidate(zhejiang, sites):
    office = sites()
    office.rss("/rss.xml", [(ZJ_TITLE + "（全文）", office.url("/news/1.html"), "2022-05-13")])
    office.detail("/news/1.html", title=ZJ_TITLE + "（全文）", paragraphs=ZJ_TEXT)  # no 文号 on this reprint
    list_source(zhejiang)
    feed_source(office, name="浙江政务服务网", level=Level.PROVINCIAL)
    sources_poll()
    assert Candidate.objects.filter(title__contains="深化数字政府建设").count() == 1
    assert Sighting.objects.filter(candidate__title=ZJ_TITLE).count() == 2


def test_different_numbers_keep_look_alike_titles_apart(site):
    site.rss(
        "/rss.xml",
        [
            ("关于公布第一批政务服务跨省通办事项清单的通知", site.url("/1.htm"), "2022-01-01"),
            ("关于公布第二批政务服务跨省通办事项清单的通知", site.url("/2.htm"), "2022-02-01"),
        ],
    )
    site.detail(
        "/1.htm",
        title="关于公布第一批政务服务跨省通办事项清单的通知",
        doc_number="国办函〔2022〕1号",
        paragraphs=["第一批清单。"],
    )
    site.detail(
        "/2.htm",
        title="关于公布第二批政务服务跨省通办事项清单的通知",
        doc_number="国办函〔2022〕9号",
        paragraphs=["第二批清单。"],
    )
    feed_source(site)
    sources_poll()
    assert Candidate.objects.count() == 2


def test_the_duplicate_of_a_catalogue_entry_is_marked_not_suggested(zhejiang):
    entry = EntryFactory(
        title="关于深化数字政府建设的实施意见",
        issuer="浙江省人民政府",
        doc_number="浙政发〔2022〕20号",
        published_on=datetime.date(2022, 5, 12),
    )
    list_source(zhejiang)
    sources_poll()
    candidate = Candidate.objects.get(title=ZJ_TITLE)
    assert candidate.status == CandidateStatus.DUPLICATE and candidate.duplicate_of == entry
    assert not Candidate.objects.filter(status=CandidateStatus.NEW, title=ZJ_TITLE).exists()


def test_an_entry_with_the_same_link_is_a_duplicate_too(national):
    entry = EntryFactory(
        title="加强数字政府建设的指导意见",
        doc_number="",
        source_url=national.url("/zhengce/content/2022-06/23/content_5697299.htm").replace("http://", "https://"),
        published_on=datetime.date(2022, 6, 23),
    )
    feed_source(national)
    sources_poll()
    assert Candidate.objects.get(doc_number="国发〔2022〕14号").duplicate_of == entry


def test_a_second_poll_finds_nothing_new_and_a_dry_run_stores_nothing(national, zhejiang):
    feed = feed_source(national)
    portal = list_source(zhejiang)
    (dry_feed, dry_portal) = sources_poll(dry_run=True)
    assert len(dry_feed.new) == 2 and len(dry_portal.new) == 4
    assert Candidate.objects.count() == 0 and Sighting.objects.count() == 0
    feed.refresh_from_db()
    assert feed.last_polled_at is None and feed.etag == ""
    sources_poll()
    count = Candidate.objects.count()
    national.routes["/rss.xml"].etag = ""  # the feed no longer answers 304: its items are read and known
    results = sources_poll(source_ids=[feed.pk, portal.pk])
    assert [len(r.new) for r in results] == [0, 0]
    assert Candidate.objects.count() == count


def test_the_fetcher_counts_requests_per_host(national, zhejiang):
    feed_source(national)
    list_source(zhejiang)
    with Fetcher() as fetcher:
        sources_poll(fetcher=fetcher)
        counts = dict(fetcher.requests_per_host)
    assert counts[national.root] == 4  # robots.txt, the feed, two detail pages
    assert counts[zhejiang.root] == len(zhejiang.hits)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/rss.xml", "http://169.254.169.254/latest/", "http://10.0.0.1/"])
def test_private_addresses_are_refused_unless_allowed(settings, url):
    settings.SOURCES_ALLOW_PRIVATE_HOSTS = False
    settings.SOURCES_ALLOW_LOOPBACK = False
    source = Source.objects.create(name="内网", url=url, kind=SourceKind.FEED)
    (result,) = sources_poll(source_ids=[source.pk])
    assert result.status == "private address"
    assert not Host.objects.filter(requests__gt=0).exists()  # not a single request was made


def test_items_over_the_limit_are_read_at_the_next_poll(national, settings):
    settings.SOURCES_MAX_ITEMS = 1
    source = feed_source(national)
    sources_poll()
    source.refresh_from_db()
    assert Candidate.objects.count() == 1 and source.etag == ""  # no 304 next time: one item is still unread
    sources_poll(source_ids=[source.pk])
    source.refresh_from_db()
    assert Candidate.objects.count() == 2 and source.etag == '"feed-v1"'


def test_loopback_is_allowed_by_the_switch_but_not_private_networks(settings, site):
    site.rss("/rss.xml", [])
    here = feed_source(site)
    there = Source.objects.create(name="内网", url="http://192.168.1.1/rss.xml", kind=SourceKind.FEED)
    assert [r.status for r in sources_poll(source_ids=[here.pk, there.pk])] == ["200 · 0", "private address"]
    settings.SOURCES_ALLOW_LOOPBACK = False
    assert [r.status for r in sources_poll(source_ids=[here.pk])] == ["private address"]


def test_loopback_is_refused_by_default():
    import dgd.settings

    assert dgd.settings.SOURCES_ALLOW_LOOPBACK is False and dgd.settings.SOURCES_ALLOW_PRIVATE_HOSTS is False


class Resolver:
    """A name that resolves to different addresses on successive lookups (DNS rebinding), as no DNS server
    runs here: the first answer is the checked one, the later ones point inside the network."""

    def __init__(self, monkeypatch, answers):
        self.answers, self.lookups, real = dict(answers), Counter(), socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host not in self.answers:
                return real(host, port, *args, **kwargs)
            self.lookups[host] += 1
            sequence = self.answers[host]
            address = sequence[min(self.lookups[host], len(sequence)) - 1]
            return real(address, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_rebound_to_a_private_address_is_still_read_from_the_checked_one(site, monkeypatch):
    """The name is resolved once: the robots.txt, the feed, the redirect and the detail page all go to the
    checked address (the site on loopback), never to the private address the later answers give."""
    port = site.server.server_port
    resolver = Resolver(
        monkeypatch, {"gov.test": ["127.0.0.1", "169.254.169.254"], "www.gov.test": ["127.0.0.1", "10.0.0.1"]}
    )
    site.rss("/rss.xml", [(E_LICENCE, f"http://gov.test:{port}/old", "2022-01-20")])
    site.routes["/old"] = Route(status=301, headers={"Location": f"http://www.gov.test:{port}/new.htm"})
    site.detail("/new.htm", title=E_LICENCE, paragraphs=E_LICENCE_TEXT, doc_number="国办发〔2022〕3号")
    source = Source.objects.create(name="中国政府网", url=f"http://gov.test:{port}/rss.xml", kind=SourceKind.FEED)
    (result,) = sources_poll(source_ids=[source.pk])
    assert result.status == "200 · 1"
    assert Candidate.objects.get().doc_number == "国办发〔2022〕3号"  # the detail page was read, after the redirect
    assert resolver.lookups == {"gov.test": 1, "www.gov.test": 1}
    assert [hit.headers["host"] for hit in site.hits] == [
        f"gov.test:{port}",  # robots.txt
        f"gov.test:{port}",  # the feed
        f"gov.test:{port}",  # the redirect (the same connection: the name is kept for its later requests)
        f"www.gov.test:{port}",  # robots.txt of the other name
        f"www.gov.test:{port}",  # the page
    ]


def test_https_to_the_checked_address_still_names_the_host_for_sni_and_the_certificate(sites, monkeypatch):
    """The connection goes to the pinned address, but TLS asks for and checks the name: the test certificate
    (tests/sources/tls, for gov.test only) is accepted through the name and refused through the address."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "gov.test.pem", TLS / "gov.test.key")
    names = []
    context.sni_callback = lambda _socket, name, _context: names.append(name)
    site = sites(tls=context)
    site.page("/p.html", "<html><body>政策文件</body></html>")
    port = site.server.server_port
    resolver = Resolver(monkeypatch, {"gov.test": ["127.0.0.1", "10.0.0.1"]})
    with Fetcher() as fetcher:
        fetcher.session.verify = str(TLS / "gov.test.pem")
        assert "政策文件" in fetcher.get(f"https://gov.test:{port}/p.html").text
        assert names and set(names) == {"gov.test"}  # the SNI of every connection made
        with pytest.raises(requests.exceptions.SSLError):
            fetcher.session.get(f"https://127.0.0.1:{port}/p.html", timeout=2)
    assert resolver.lookups["gov.test"] == 1
    assert [hit.headers["host"] for hit in site.hits] == [f"gov.test:{port}", f"gov.test:{port}"]  # robots, page


def test_a_name_that_answers_a_private_address_first_is_refused(site, monkeypatch):
    port = site.server.server_port
    resolver = Resolver(monkeypatch, {"gov.test": ["10.1.2.3", "127.0.0.1"]})
    source = Source.objects.create(name="内网", url=f"http://gov.test:{port}/rss.xml", kind=SourceKind.FEED)
    (result,) = sources_poll(source_ids=[source.pk])
    assert result.status == "private address"
    assert resolver.lookups["gov.test"] == 1 and site.hits == []


@pytest.mark.parametrize("address", ["::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "0.0.0.0", "100.64.0.1"])
def test_private_addresses_inside_ipv6_or_special_ranges_are_refused(address):
    with pytest.raises(FetchError, match="private address"):
        checked_address(address, 80)


def test_a_redirect_to_a_private_address_is_refused(site):
    site.rss("/rss.xml", [(E_LICENCE, site.url("/jump"), "2022-01-20")])
    site.routes["/jump"] = Route(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with Fetcher() as fetcher, pytest.raises(FetchError, match="private address"):
        fetcher.get(site.url("/jump"))
    assert len(site.hits_for("/jump")) == 1


def test_another_layout_a_wrong_server_charset_and_one_page_under_several_links(site):
    """A table list page whose server says ISO-8859-1 while its <meta> says gb2312, linking one detail page
    three ways (tracking parameters, index.html, a trailing slash): one candidate, read once, its 文号 in ﹝﹞
    with full-width digits and its signature date in Chinese numerals."""
    rows = "".join(
        f"<tr><td><a href='{href}'>关于推进政务服务“一件事”集成改革的通知</a></td><td>2022年8月5日</td></tr>"
        for href in ("/art/7/index.html", "/art/7/?utm_source=wechat", "/art/7/")
    )
    site.page(
        "/col/list.html",
        f"<html><head><meta http-equiv='Content-Type' content='text/html; charset=gb2312'></head><body>"
        f"<table class='news'>{rows}</table></body></html>",
        encoding="gbk",
        declare="none",
    )
    site.routes["/col/list.html"].content_type = "text/html; charset=ISO-8859-1"
    site.detail(
        "/art/7/index.html",
        title="福建省人民政府办公厅关于推进政务服务“一件事”集成改革的通知",
        paragraphs=[*ZJ_TEXT[1:3], "福建省人民政府办公厅", "二〇二二年八月三日"],
        doc_number="闽政办﹝２０２２﹞３６号",
        encoding="gbk",
        declare="meta",
    )
    source = list_source(site, "/col/list.html", item_selector="table.news tr", date_selector="", next_selector="")
    (result,) = sources_poll(source_ids=[source.pk])
    assert result.status == "200 · 1"
    candidate = Candidate.objects.get()
    assert candidate.title == "关于推进政务服务“一件事”集成改革的通知"  # the list's title, decoded right
    assert candidate.doc_number == "闽政办〔2022〕36号"
    assert candidate.published_on == datetime.date(2022, 8, 5) and candidate.issued_on == datetime.date(2022, 8, 3)
    assert candidate.sightings.count() == 1
    assert [hit.path for hit in site.hits if hit.path.startswith("/art/")] == ["/art/7/index.html"]  # read once
