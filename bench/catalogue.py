"""Benchmarks of the catalogue's batch paths: parsing, importing and exporting a newsletter, its PDF.

Run with `make bench` (PostgreSQL when reachable, else SQLite); results are appended to
docs/benchmarks.md with the machine and the date.
"""

import os
import platform
import statistics
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgd.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from issues.models import Issue  # noqa: E402
from issues.newsletter.parser import parse  # noqa: E402
from issues.newsletter.writer import render_text  # noqa: E402
from issues.renditions import render_pdf  # noqa: E402
from issues.selectors import issue_as_data, issue_data  # noqa: E402
from issues.services import issue_import_newsletter, newsletter_vocabulary  # noqa: E402
from policies.models import Entry, Region  # noqa: E402

SAMPLE = Path(settings.BASE_DIR) / "issues" / "fixtures" / "dgd-2022-08-zhengwu.txt"


def timed(fn, runs):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def memory_gib():
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def database_version():
    if connection.vendor == "postgresql":
        version = connection.pg_version
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    return f"SQLite {connection.Database.sqlite_version}"


def main():
    data = SAMPLE.read_bytes()
    vocabulary = newsletter_vocabulary()
    rows = [("parse the sample (31 entries, 46 KB)", *timed(lambda: parse(data, vocabulary), 50))]

    def first_import():
        Issue.objects.all().delete()
        Entry.objects.all().delete()
        issue_import_newsletter(data=data)

    rows.append(("first import into an empty catalogue", *timed(first_import, 10)))
    rows.append(("re-import (idempotent: nothing written)", *timed(lambda: issue_import_newsletter(data=data), 10)))
    issue = Issue.objects.get(year=2022, month=8)
    rows.append(("export JSON (issue_as_data)", *timed(lambda: issue_as_data(issue), 30)))
    data_for_pdf = issue_data(issue)
    render_pdf(data_for_pdf)  # warm fontconfig once, as a running server would be
    rows.append(("render the sample's PDF (WeasyPrint, 18 pages)", *timed(lambda: render_pdf(data_for_pdf), 5)))
    names = {str(code): short for code, short in Region.objects.values_list("code", "short_name")}
    rows.append(("export text", *timed(lambda: render_text(issue_as_data(issue), names), 30)))

    lines = [
        f"\n## Catalogue batch paths — {time.strftime('%Y-%m-%d %H:%M %Z')}\n",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {memory_gib():.0f} GiB, {platform.machine()}, "
        f"Python {platform.python_version()}, database {database_version()}. Command: `make bench`.\n",
        "| what | p50 ms | p95 ms |",
        "|---|---|---|",
        *(f"| {name} | {p50:.1f} | {p95:.1f} |" for name, p50, p95 in rows),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    out = Path(settings.BASE_DIR) / "docs" / "benchmarks.md"
    if not out.exists():
        out.write_text("# Benchmarks\n\nEach run of `make bench` appends its results here.\n", encoding="utf-8")
    with out.open("a", encoding="utf-8") as f:
        f.write(report)


if __name__ == "__main__":
    main()
