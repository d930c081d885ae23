"""Benchmark of the sales library at scale: server time of its pages, facets and an export.

    python -m bench.library [--entries 1000000] [--runs 30]

Seeds the database with ``seed_demo`` (seed 1) up to ``--entries`` when it holds fewer, then times each
request through Django's test client (the full view: filter, queries, template), warm, and appends p50/p95
(and each page's number of queries) to docs/benchmarks.md. Every library page is timed: the list under
several filters, numbered and keyset pages, the empty state, the province page, the map, an entry, the saved
filters, and the facets (all six lists) computed after a catalogue change (the version bumped, as marking an
entry ready does, so no count is cached; the session, the permissions and the vocabulary stay cached, as they
do then) and read from the cache.
``make bench`` runs it on PostgreSQL in the database ``dgd_lib_bench`` (kept between
runs, with ``jit = off`` and ``work_mem = '64MB'``), apart from ``dgd_bench``, whose entries the catalogue
benchmark deletes on every run.
"""

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgd.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from dgd.roles import SALES, ensure_roles  # noqa: E402
from dgd.startup import prepare_process  # noqa: E402
from library.filters import LibraryFilter  # noqa: E402
from library.selectors import library_count  # noqa: E402
from policies.indexing import catalogue_changed, entries_reindex  # noqa: E402
from policies.models import CatalogueRegion, CatalogueRow, Entry  # noqa: E402

CASES = [
    ("unfiltered, newest 20", "/library/", {}),
    ("one province (广东, 19 %)", "/library/", {"region": "440000"}),
    ("one province (西藏, 1.8 %)", "/library/", {"region": "540000"}),
    ("province + theme (广东 + 一网通办)", "/library/", {"region": "440000", "theme": "one-network"}),
    ("province + theme (西藏 + 跨省通办, narrow)", "/library/", {"region": "540000", "theme": "cross-province"}),
    (
        "two provinces + two themes",
        "/library/",
        {"region": ["320000", "330000"], "theme": ["e-licence", "one-network"]},
    ),
    ("keyword 证照 (two characters, broad)", "/library/", {"q": "证照"}),
    ("keyword 一网通办", "/library/", {"q": "一网通办"}),
    ("keyword 证照, sort=relevance", "/library/", {"q": "证照", "sort": "relevance"}),
    (
        "keyword + province + 2 years (一网通办, 西藏)",
        "/library/",
        {"q": "一网通办", "region": "540000", "date_from": "2023-01-01", "date_to": "2024-12-31"},
    ),
    (
        "keyword + province + 2 years (证照, 广东)",
        "/library/",
        {"q": "证照", "region": "440000", "date_from": "2023-01-01", "date_to": "2024-12-31"},
    ),
    ("page 500 of the unfiltered list", "/library/", {"page": "500"}),
    ("page 3 of one province (广东), numbered", "/library/", {"region": "440000", "page": "3"}),
    (
        "province + theme + level + kind + year (chips for each)",
        "/library/",
        {
            "region": "320000",
            "theme": "one-network",
            "level": "provincial",
            "kind": "policy",
            "date_from": "2023-01-01",
            "date_to": "2023-12-31",
        },
    ),
    ("an issuing body in one province (广东)", "/library/", {"issuer": "人民政府", "region": "440000"}),
    (
        "empty list: what dropping each value would show (counted)",
        "/library/",
        {"region": "540000", "theme": "cross-province", "kind": "briefing", "level": "county"},
    ),
    ("province page (广东)", "/library/province/440000/", {}),
    ("province page (江苏) under a theme", "/library/province/320000/", {"theme": "one-network"}),
    ("map alone (map.svg)", "/library/map.svg", {"theme": "e-licence"}),
    ("entry page", None, {}),
    ("entry page, opened from a filtered list", None, {"region": "440000", "page": "2"}),
    ("saved filters", "/library/saved/", {}),
]
FACETS = [
    ("facets, no filter", {}),
    ("facets, one theme", {"theme": "e-licence"}),
    ("facets, one province (广东)", {"region": "440000"}),
    (
        "facets, theme + kind + dates (odd days at both ends)",
        {"theme": "e-licence", "kind": "policy", "date_from": "2021-03-17", "date_to": "2024-06-09"},
    ),
    ("facets, province + theme", {"region": "440000", "theme": "one-network"}),
    ("facets, two themes (provinces from the sample)", {"theme": ["e-licence", "one-network"]}),
    (
        "facets, two provinces + two themes (both from the sample)",
        {"region": ["320000", "330000"], "theme": ["e-licence", "one-network"]},
    ),
    ("facets, one level and one kind", {"level": "provincial", "kind": "policy"}),
    ("facets, a year", {"date_from": "2023-01-01", "date_to": "2023-12-31"}),
    ("facets, an issuing body", {"issuer": "人民政府"}),
    ("facets, keyword 一网通办", {"q": "一网通办"}),
    ("facets, keyword 证照 (broad)", {"q": "证照"}),
    (
        "facets, keyword + province + 2 years (证照, 广东)",
        {"q": "证照", "region": "440000", "date_from": "2023-01-01", "date_to": "2024-12-31"},
    ),
    (
        "facets, keyword + province + 2 years (一网通办, 西藏)",
        {"q": "一网通办", "region": "540000", "date_from": "2023-01-01", "date_to": "2024-12-31"},
    ),
]


def percentiles(samples):
    samples = sorted(samples)
    return statistics.median(samples), samples[max(0, round(len(samples) * 0.95) - 1)]


def timed(fn, runs, warm=2):
    """p50 and p95 of the wall time, and the p50 of this process's CPU time (the view, the ORM and the
    template, not PostgreSQL's share): on a shared machine the wall time grows with the load, the CPU time
    much less."""
    for _ in range(warm):
        fn()
    samples, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return (*percentiles(samples), statistics.median(cpu))


def get(client, url, params):
    response = client.get(url, params)
    if response.status_code != 200:
        raise SystemExit(f"{url} {params}: HTTP {response.status_code}")
    if response.streaming:
        for _chunk in response.streaming_content:
            pass
    return response


def count_queries(fn):
    """The queries one warm request makes (the page's count pinned in tests/library/test_views.py)."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries.captured_queries)


def client_for_sales():
    from django.contrib.auth.models import Group, User

    ensure_roles()
    user, _ = User.objects.get_or_create(username="bench-sales")
    user.groups.add(Group.objects.get(name=SALES))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def cache_name():
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"{backend} (sessions and permission sets cached)" if settings.DGD_CACHE_PERMISSIONS else backend


def database_version():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            jit = cursor.fetchone()[0]
            cursor.execute("SHOW work_mem")
            work_mem = cursor.fetchone()[0]
        version = connection.pg_version
        return f"PostgreSQL {version // 10000}.{version % 10000} (jit={jit}, work_mem={work_mem})"
    return f"SQLite {connection.Database.sqlite_version}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    load_at_start = load_average()

    have = Entry.objects.count()
    seeded = None
    if have < args.entries:
        start = time.perf_counter()
        call_command("seed_demo", entries=args.entries - have, seed=1, batch=20000)
        seeded = (args.entries - have, time.perf_counter() - start)
        print(f"seeded {seeded[0]} entries in {seeded[1]:.0f} s")
    total, ready = Entry.objects.count(), CatalogueRow.objects.count()
    client = client_for_sales()
    entry_id = CatalogueRow.objects.order_by("-published_on", "-entry_id").values_list("entry_id", flat=True)[500]

    prepare_process()  # as dgd.wsgi does in every gunicorn worker: lazy loads done, the collector kept off them
    rows = []
    for name, url, params in CASES:
        url = url or f"/library/entry/{entry_id}/"
        p50, p95, cpu = timed(lambda url=url, params=params: get(client, url, params), args.runs)
        queries = count_queries(lambda url=url, params=params: get(client, url, params))
        rows.append((f"{name} [{queries} queries]", p50, p95, cpu))
        print(f"{name}: {p50:.1f} / {p95:.1f}, CPU {cpu:.1f} ({queries} queries)", flush=True)
    for name, params in FACETS:

        def cold(params=params):
            catalogue_changed()  # what marking an entry ready does: every cached count is stale
            get(client, "/library/facets/", params)

        rows.append((f"{name} (computed)", *timed(cold, max(5, args.runs // 3), warm=1)))
        rows.append(
            (f"{name} (cached)", *timed(lambda params=params: get(client, "/library/facets/", params), args.runs))
        )
    # 广东 from the date that gives about 10,000 rows (the 10,000th newest), through the HTTP view.
    guangdong = CatalogueRegion.objects.filter(region_id=440000).order_by("-published_on", "-entry_id")
    exported = min(10_000, guangdong.count())
    since = guangdong.values_list("published_on", flat=True)[exported - 1]
    export = {"region": "440000", "date_from": since.isoformat()}
    count = library_count(LibraryFilter(export).criteria())[0]
    assert LibraryFilter(export).criteria().regions == (440000,)
    rows.append(
        (
            f"export .csv over HTTP (广东 since {since}: {count:,} rows)",
            *timed(lambda: get(client, "/library/export.csv", export), 3, warm=1),
        )
    )
    rows.append(
        (
            f"export .xlsx over HTTP (the same {count:,} rows)",
            *timed(lambda: get(client, "/library/export.xlsx", export), 3, warm=1),
        )
    )

    def export_10k():
        from library.exports import export_rows
        from library.filters import LibraryFilter

        criteria = LibraryFilter({"region": "440000"}).criteria()
        n = sum(1 for _ in export_rows(criteria, limit=exported))
        assert n == exported + 1

    rows.append(
        (f"export rows, exactly {exported:,} (selector + row building, no HTTP)", *timed(export_10k, 3, warm=1))
    )

    rows.append(
        (
            "reindex an edited entry, twice: date moved a day, then back (index rows + counts delta)",
            *timed(reindex_one, args.runs),
        )
    )

    lines = [
        f"\n## Sales library at {total:,} entries ({ready:,} ready) — {time.strftime('%Y-%m-%d %H:%M %Z')}\n",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {memory_gib():.0f} GiB, {platform.machine()}, "
        f"Python {platform.python_version()}, database {database_version()}, cache {cache_name()}. "
        f"Command: `make bench` (or `python -m bench.library --entries {args.entries}`). Server time of the whole "
        f"view through Django's test client, warm, {args.runs} runs (exports 3); ms. CPU: the p50 of the Django "
        f"process's CPU time per request (PostgreSQL's excluded). Load average (1/5/15 min) at the start "
        f"{load_at_start}, at the end {load_average()}.\n",
        "| what | p50 ms | p95 ms | CPU p50 ms |",
        "|---|---|---|---|",
        *(f"| {name} | {p50:.1f} | {p95:.1f} | {cpu:.1f} |" for name, p50, p95, cpu in rows),
    ]
    if seeded:
        lines.append(f"\nSeeding: `seed_demo --entries {seeded[0]} --seed 1` took {seeded[1]:.0f} s wall.")
    report = "\n".join(lines) + "\n"
    print(report)
    out = Path(settings.BASE_DIR) / "docs" / "benchmarks.md"
    with out.open("a", encoding="utf-8") as f:
        f.write(report)


def reindex_one():
    """What an admin save costs the library: one entry's date moves by a day and it is reindexed."""
    entry = Entry.objects.filter(status="ready").order_by("-pk").first()
    Entry.objects.filter(pk=entry.pk).update(published_on=entry.published_on + datetime.timedelta(days=1))
    entries_reindex(entry_ids=[entry.pk])
    Entry.objects.filter(pk=entry.pk).update(published_on=entry.published_on)
    entries_reindex(entry_ids=[entry.pk])


def load_average():
    return " / ".join(f"{n:.1f}" for n in os.getloadavg())


def memory_gib():
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


if __name__ == "__main__":
    main()
