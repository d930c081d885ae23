"""Benchmark of the researchers' inbox: poll 200 sources × 50 items served on loopback.

Generated government-like sites (every tenth source a list page in GBK, the rest RSS feeds; detail pages with a
文号 and a few paragraphs; one item in ten a reprint of another site's policy) are served by threaded
http.servers on 127.0.0.1, one port per site, so each site is a host of its own for the politeness rules. The
poll runs the way Celery runs it: one job per host (``--workers`` at a time), each host's requests one after
another with ``--delay`` seconds between them. Recorded: the wall time, items and requests per second, the
requests per host and the most requests a host ever had at once (the rule says 1), candidates and reprints.

    python -m bench.sources [--sources 200] [--items 50] [--sites 20] [--workers 4] [--delay 0] [--no-record]

The tables of the inbox (sources, candidates, hosts) are emptied first: run it on a benchmark database.
"""

import argparse
import os
import platform
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgd.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402

from sources.fetching import Fetcher  # noqa: E402
from sources.models import Candidate, Host, Sighting, Source  # noqa: E402
from sources.services import sources_poll  # noqa: E402

TOPICS = ["一网通办", "电子证照", "数据共享", "营商环境", "跨省通办", "政务服务", "数字政府", "基层治理", "信用监管"]
PROVINCES = ["浙江省", "江苏省", "广东省", "山东省", "四川省", "河南省", "湖北省", "福建省", "安徽省", "湖南省"]


class Site:
    """A web site on loopback whose pages are generated on request; counts its requests and concurrency."""

    def __init__(self, number, sources, items):
        self.number, self.sources, self.items = number, sources, items
        self.province = PROVINCES[number % len(PROVINCES)]
        self.hits = 0
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with site.lock:
                    site.hits += 1
                    site.active += 1
                    site.max_active = max(site.max_active, site.active)
                try:
                    status, content_type, body = site.answer(self.path)
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with site.lock:
                        site.active -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.root = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def title(self, source, item):
        """The item's title and 文号; one item in ten reprints a policy of the site before it (same title and 文号)."""
        number = self.number
        if item % 10 == 9:  # a reprint of item 8 of the site before (an original there)
            number, item = (number - 1) % SITES, item - 1
        province = PROVINCES[number % len(PROVINCES)]
        topic = TOPICS[(source + item) % len(TOPICS)]
        serial = (number * self.sources + source) * self.items + item + 1  # one per policy, 5 digits at most
        return (
            f"{province}人民政府办公厅关于推进{topic}第{source}类第{item}项工作的通知",
            f"{province[0]}政办发〔2025〕{serial}号",
        )

    def answer(self, path):
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /admin/\n"
        parts = path.strip("/").split("/")
        if parts[0] == "feed":
            return 200, "application/rss+xml", self.feed(int(parts[1])).encode()
        if parts[0] == "list":
            return 200, "text/html; charset=gbk", self.listing(int(parts[1])).encode("gbk")
        if parts[0] == "art":
            source, item = int(parts[1]), int(parts[2].split(".")[0])
            encoding = "gbk" if source % 10 == 0 else "utf-8"
            return 200, f"text/html; charset={encoding}", self.detail(source, item).encode(encoding)
        return 404, "text/plain", b"not found"

    def feed(self, source):
        entries = "".join(
            f"<item><title>{escape(self.title(source, i)[0])}</title><link>{self.root}/art/{source}/{i}.html</link>"
            f"<pubDate>{formatdate(1735689600 + i * 86400, usegmt=True)}</pubDate></item>"
            for i in range(self.items)
        )
        head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>政策</title>'
        return f"{head}{entries}</channel></rss>"

    def listing(self, source):
        rows = "".join(
            f'<li><a href="/art/{source}/{i}.html">{escape(self.title(source, i)[0])}</a>'
            f'<span class="date">2025-01-{i % 28 + 1:02d}</span></li>'
            for i in range(self.items)
        )
        return f'<html><head><title>政策文件</title></head><body><ul class="list">{rows}</ul></body></html>'

    def detail(self, source, item):
        title, number = self.title(source, item)
        topic = TOPICS[(source + item) % len(TOPICS)]
        paragraphs = [
            "各市、县（市、区）人民政府，省政府直属各单位：",
            f"为深入推进{topic}，提升政务服务标准化、规范化、便利化水平，经省政府同意，现将有关事项通知如下。",
            f"一、工作目标。到2025年底，{topic}相关事项实现全程网办，办理时限压缩一半以上。",
            "二、重点任务。推动数据共享和业务协同，完善电子证照应用，优化办事流程。",
            "三、保障措施。各地各部门要加强组织领导，明确责任分工，确保各项任务落到实处。",
        ]
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        return (
            f"<html><head><title>{escape(title)}</title></head><body><div class='nav'>首页 | 政务公开</div>"
            f"<div class='article'><h1>{escape(title)}</h1><p>{number}</p>{body}<p>2025年1月{item % 28 + 1}日</p></div>"
            "<div class='footer'>主办单位：人民政府办公厅</div></body></html>"
        )


SITES = 20


def main():
    global SITES
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="hosts polled at once (Celery worker processes)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between two requests to one host")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args()
    SITES = args.sites
    settings.SOURCES_HOST_DELAY = args.delay
    settings.SOURCES_ALLOW_LOOPBACK = True  # the generated sites run on 127.0.0.1 (refused by default)
    settings.SOURCES_MAX_ITEMS = max(args.items, 100)

    Candidate.objects.all().delete()
    Source.objects.all().delete()
    Host.objects.all().delete()
    per_site = -(-args.sources // args.sites)
    sites = [Site(n, per_site, args.items) for n in range(args.sites)]
    by_host = {}
    for number in range(args.sources):
        site = sites[number % args.sites]
        index = number // args.sites
        kind = "list" if number % 10 == 0 else "feed"
        url = f"{site.root}/{kind}/{index}" if kind == "feed" else f"{site.root}/list/{index}"
        source = Source.objects.create(
            name=f"{site.province}人民政府 {index}",
            url=url,
            kind=kind,
            level="provincial",
            item_selector="ul.list li" if kind == "list" else "",
            date_selector="span.date" if kind == "list" else "",
        )
        by_host.setdefault(site.root, []).append(source.pk)

    fetch_counts = {}

    def poll_host(ids):
        try:
            with Fetcher() as fetcher:
                sources_poll(source_ids=ids, fetcher=fetcher)
                return dict(fetcher.requests_per_host)
        finally:
            connections.close_all()

    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for counts in pool.map(poll_host, by_host.values()):
            fetch_counts.update(counts)
    elapsed = time.perf_counter() - start
    for site in sites:
        site.close()

    items = args.sources * args.items
    requests = sum(site.hits for site in sites)
    per_host = sorted(site.hits for site in sites)
    candidates = Candidate.objects.count()
    sightings = Sighting.objects.count()
    errors = list(Source.objects.exclude(last_error="").values_list("last_error", flat=True)[:3])
    row = {
        "sources × items": f"{args.sources} × {args.items} ({args.sites} hosts, {args.workers} at once)",
        "delay per host": f"{args.delay:g} s",
        "wall time": f"{elapsed:.1f} s",
        "items per second": f"{items / elapsed:.0f}",
        "requests": f"{requests} ({requests / elapsed:.0f}/s)",
        "requests per host": f"min {per_host[0]}, max {per_host[-1]}",
        "most at once on one host": str(max(site.max_active for site in sites)),
        "candidates / sightings": f"{candidates} / {sightings}",
        "errors": "; ".join(errors) or "none",
        # the machine may be shared: its 1-minute load average before and after, beside its CPU count
        "load average (before / after)": f"{load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
    }
    for key, value in row.items():
        print(f"{key:>26}: {value}")
    if not args.no_record:
        record(row)


def record(row):
    version = connection.pg_version if connection.vendor == "postgresql" else None
    database = f"PostgreSQL {version // 10000}" if version else "SQLite"
    lines = [
        "",
        f"## The researchers' inbox: polling on loopback ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {database})",
        "",
        "`python -m bench.sources` (bench/sources.py): generated government sites on 127.0.0.1, one job per host.",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in row.items()],
    ]
    with open(Path(settings.BASE_DIR) / "docs" / "benchmarks.md", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
