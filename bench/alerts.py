"""Benchmark of the saved-filter alerts: the daily run over many saved filters of a large catalogue.

    python -m bench.alerts [--entries 1000000] [--filters 1000] [--ready 500]

Seeds the database with ``seed_demo`` (seed 1) up to ``--entries`` when it holds fewer (``make bench`` runs it
in ``dgd_lib_bench``, the library benchmark's million entries), makes ``--filters`` saved filters of varied
shapes (a province, a province and a theme, two provinces, a theme, a keyword, a province with a kind or a
level, a keyword with a province) daily alerts of 50 sales users, marks ``--ready`` draft entries ready through
``policies.services.entry_mark_ready`` (as a researcher does), then times the daily run at the next 08:00
(mail through Django's in-memory backend, so the figure is the database's and the rendering's work, not an SMTP
server's), with its queries counted per alert. Appends the result to docs/benchmarks.md.
"""

import argparse
import datetime
import os
import platform
import random
import time
from pathlib import Path
from urllib.parse import urlencode

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgd.settings")
django.setup()

from django.core.mail import get_connection  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from alerts.models import Alert, AlertMail, Frequency  # noqa: E402
from alerts.schedule import TIME_ZONE  # noqa: E402
from alerts.services import alerts_send  # noqa: E402
from bench.library import database_version, load_average  # noqa: E402
from dgd.roles import RESEARCHER, SALES, ensure_roles  # noqa: E402
from library.models import SavedFilter  # noqa: E402
from policies.models import Entry, Region, Status, Theme  # noqa: E402
from policies.services import entry_mark_ready  # noqa: E402

USERS = 50
KEYWORDS = ["一网通办", "跨省通办", "电子证照", "营商环境", "证照", "数据共享", "政务服务"]


def bench_users():
    from django.contrib.auth.models import Group, User

    ensure_roles()
    sales = Group.objects.get(name=SALES)
    users = []
    for n in range(USERS):
        user, _ = User.objects.get_or_create(username=f"bench-alerts-{n}", defaults={"email": f"alerts{n}@bench.test"})
        user.groups.add(sales)
        users.append(user)
    researcher, _ = User.objects.get_or_create(username="bench-alerts-researcher")
    researcher.groups.add(Group.objects.get(name=RESEARCHER))
    return users, researcher


def filter_queries(count, rng):
    """``count`` library query strings of the shapes sales save."""
    provinces = list(Region.objects.filter(parent=None).values_list("code", flat=True))
    themes = list(Theme.objects.values_list("slug", flat=True))
    shapes = [
        lambda: {"region": rng.choice(provinces)},
        lambda: {"region": rng.choice(provinces), "theme": rng.choice(themes)},
        lambda: {"region": rng.sample(provinces, 2)},
        lambda: {"theme": rng.choice(themes)},
        lambda: {"q": rng.choice(KEYWORDS)},
        lambda: {"region": rng.choice(provinces), "kind": rng.choice(["policy", "practice"])},
        lambda: {"region": rng.choice(provinces), "level": "provincial", "theme": rng.sample(themes, 2)},
        lambda: {"q": rng.choice(KEYWORDS), "region": rng.choice(provinces)},
    ]
    return [urlencode(rng.choice(shapes)(), doseq=True) for _ in range(count)]


def next_daily_run(now):
    local = now.astimezone(TIME_ZONE)
    slot = local.replace(hour=8, minute=0, second=5, microsecond=0)
    return slot if slot > local else slot + datetime.timedelta(days=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--filters", type=int, default=1000)
    parser.add_argument("--ready", type=int, default=500)
    parser.add_argument("--no-report", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    have = Entry.objects.count()
    if have < args.entries:
        start = time.perf_counter()
        call_command("seed_demo", entries=args.entries - have, seed=1, batch=20000)
        print(f"seeded {args.entries - have} entries in {time.perf_counter() - start:.0f} s")
    rng = random.Random(1)
    users, researcher = bench_users()
    SavedFilter.objects.filter(user__in=users).delete()  # a fresh set on every run (their alerts and mails too)
    since = timezone.now()
    saved = SavedFilter.objects.bulk_create(
        SavedFilter(user=users[n % USERS], name=f"bench {n}", query=query)
        for n, query in enumerate(filter_queries(args.filters, rng))
    )
    Alert.objects.bulk_create(
        Alert(saved_filter=s, frequency=Frequency.DAILY, since=since, checked_until=since) for s in saved
    )

    drafts = list(Entry.objects.filter(status=Status.DRAFT).order_by("?").values_list("pk", flat=True)[: args.ready])
    start = time.perf_counter()
    marked = entry_mark_ready(entries=Entry.objects.filter(pk__in=drafts), by=researcher)
    mark_seconds = time.perf_counter() - start
    print(f"marked {marked} entries ready in {mark_seconds:.1f} s")

    now = next_daily_run(timezone.now())
    mail = get_connection("django.core.mail.backends.locmem.EmailBackend")
    counted = []  # every query of the run (``connection.queries`` keeps only the last 9,000)
    start = time.perf_counter()
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: counted.append(1) or execute(sql, params, many, context)
    ):
        report = alerts_send(frequency=Frequency.DAILY, now=now, connection=mail)
    seconds = time.perf_counter() - start
    queries = len(counted)
    mails = AlertMail.objects.filter(alert__saved_filter__user__in=users)
    entries = sum(mails.values_list("entry_count", flat=True))
    again = alerts_send(frequency=Frequency.DAILY, now=now + datetime.timedelta(hours=1), connection=mail)
    assert again.sent == 0, "a second run at the same slot sent mail"
    line = (
        f"{args.filters:,} daily alerts over {Entry.objects.count():,} entries, {marked} made ready: "
        f"{seconds:.1f} s, {report.sent:,} mails ({entries:,} entries), {report.failed} failed, "
        f"{queries / max(args.filters, 1):.1f} queries per alert"
    )
    print(line)
    if not args.no_report:
        write_report(args, line, mark_seconds)


def write_report(args, line, mark_seconds):
    cpu = os.cpu_count()
    path = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    stamp = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M}"
    with path.open("a", encoding="utf-8") as out:
        out.write(
            f"\n### Saved-filter alerts (bench/alerts.py) — {stamp} UTC\n\n"
            f"Machine: {platform.node()}, {cpu} cores, Python {platform.python_version()}, {database_version()}.\n"
            f"`python -m bench.alerts --entries {args.entries} --filters {args.filters} --ready {args.ready}`; "
            f"marking the entries ready (entry_mark_ready, one call) took {mark_seconds:.1f} s. Load average "
            f"(1/5/15 min) at the end: {load_average()}.\n\n"
            f"- {line}\n"
        )


if __name__ == "__main__":
    main()
