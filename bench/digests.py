"""Digest fan-out benchmark: confirmed subscribers, the sample issue published, digests sent by two Celery
worker processes into Postfix's C ``smtp-sink``; beside it the sink's own ceiling for a pre-rendered message
of the same size, and django-newsletter 1.2.1 (in a throwaway venv of its own) into the same sink.

Run with ``make bench`` (scripts/bench.sh). Results are appended to docs/benchmarks.md.
Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379/13, flushed), BENCH_SINK_PORT (2525),
BENCH_SIZES (1000,10000), BENCH_NEWSLETTER (1 to compare with django-newsletter, 0 to leave it out).
"""

import json
import os
import platform
import re
import smtplib
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import django

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SINK_PORT = int(os.environ.get("BENCH_SINK_PORT", "2525"))
os.environ["CELERY_BROKER_URL"] = REDIS_URL
os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{SINK_PORT}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgd.settings")
django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from demo.subscribers import seed_subscribers  # noqa: E402
from issues.models import Issue, IssueStatus  # noqa: E402
from issues.services import issue_import_newsletter  # noqa: E402
from issues.workflow import revision_create  # noqa: E402
from subscribers.digests import DigestRenderer, personalise  # noqa: E402
from subscribers.models import Delivery, Fanout, Scope, Subscriber  # noqa: E402
from subscribers.selectors import delivery_counts  # noqa: E402
from subscribers.services import deliveries_create_for_issue  # noqa: E402

BASE = Path(settings.BASE_DIR)
VAR = Path(os.environ.get("DGD_VAR_DIR", BASE / "var" / "bench"))
SAMPLE = BASE / "issues" / "fixtures" / "dgd-2022-08-zhengwu.txt"
SINK = "/usr/sbin/smtp-sink"
NEWSLETTER_VENV = VAR / "newsletter-venv"


class Sink:
    """Postfix's smtp-sink with its running counters (-c): we read how many messages it took."""

    def __init__(self, port):
        user = ["-u", "postfix"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen(
            [SINK, "-c", *user, f"127.0.0.1:{port}", "1024"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.messages = 0
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)

    def _read(self):
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            found = re.findall(rb"mesg=(\d+)", chunk)
            if found:
                self.messages = int(found[-1])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


def start_workers(count, log_dir):
    env = {**os.environ, "CELERY_BROKER_URL": REDIS_URL, "EMAIL_URL": f"smtp://127.0.0.1:{SINK_PORT}"}
    celery = Path(sys.executable).with_name("celery")
    workers = []
    for n in range(count):
        log = log_dir / f"bench-worker-{n}.log"
        proc = subprocess.Popen(
            [
                str(celery),
                "-A",
                "dgd",
                "worker",
                "-P",
                "solo",
                "-n",
                f"bench{n}@%h",
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        workers.append((proc, log))
    deadline = time.monotonic() + 60
    for proc, log in workers:
        while " ready." not in log.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"worker did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    return workers


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stop_workers(workers):
    for proc, _ in workers:
        proc.terminate()
    for proc, _ in workers:
        proc.wait(30)


def published_sample():
    issue = issue_import_newsletter(data=SAMPLE.read_bytes(), source_name=SAMPLE.name).issue
    if issue.status != IssueStatus.PUBLISHED or not issue.revisions.exists():
        Issue.objects.filter(pk=issue.pk).update(status=IssueStatus.PUBLISHED)
        issue.refresh_from_db()
        revision_create(issue=issue, by=None, reason="bench")
    return issue


def run(issue, size, sink):
    Delivery.objects.all().delete()
    Fanout.objects.all().delete()  # the fan-out runs once per issue: start afresh
    Subscriber.objects.all().delete()
    seed_subscribers(count=size, seed=1)
    Subscriber.objects.update(scope=Scope.WHOLE)  # everyone gets a digest; preferences still vary the order
    redis.Redis.from_url(REDIS_URL).flushdb()
    workers = start_workers(2, VAR)
    before = sink.messages
    start = time.perf_counter()
    deliveries_create_for_issue(issue_id=issue.pk)
    while (counts := delivery_counts(issue_id=issue.pk))["pending"]:
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    time.sleep(0.3)
    peaks = [peak_rss_mib(proc.pid) for proc, _ in workers]
    stop_workers(workers)
    groups = len(
        {
            (s.scope, tuple(p.code for p in s.provinces.all()), tuple(t.slug for t in s.themes.all()))
            for s in Subscriber.objects.prefetch_related("provinces", "themes")
        }
    )
    return {
        "size": size,
        "sent": counts["sent"],
        "failed": counts["failed"],
        "sink": sink.messages - before,
        "seconds": seconds,
        "rate": counts["sent"] / seconds,
        "peak_mib": max(peaks),
        "groups": groups,
    }


def sample_message(issue):
    revision = issue.latest_revision()
    renderer = DigestRenderer(issue=issue, data=revision.data, revision_number=revision.number)
    subscriber = Subscriber.objects.first()
    rendered = renderer.group((Scope.WHOLE, (), ()))
    message = personalise(rendered, subscriber_id=subscriber.pk, email=subscriber.email, name="读者", issue_id=issue.pk)
    return message.message().as_bytes(linesep="\r\n")


def sink_ceiling(message, count, processes=1):
    """A pre-rendered message sent ``count`` times over one connection per process (smtplib)."""

    def loop(n):
        client = smtplib.SMTP("127.0.0.1", SINK_PORT)
        for _ in range(n):
            client.sendmail("dgd@localhost", ["reader@example.org"], message)
        client.quit()

    start = time.perf_counter()
    if processes == 1:
        loop(count)
    else:
        # separate processes, not threads: the GIL would serialise smtplib's work
        script = (
            "import smtplib,sys;m=open(sys.argv[1],'rb').read();c=smtplib.SMTP('127.0.0.1',int(sys.argv[2]))\n"
            "for _ in range(int(sys.argv[3])): c.sendmail('dgd@localhost',['r@example.org'],m)\nc.quit()"
        )
        path = VAR / "bench-message.eml"
        path.write_bytes(message)
        start = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, "-c", script, str(path), str(SINK_PORT), str(count // processes)])
            for _ in range(processes)
        ]
        for proc in procs:
            proc.wait()
    return count / (time.perf_counter() - start)


def newsletter_comparison(issue, size):
    python = NEWSLETTER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(NEWSLETTER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "django-newsletter==1.2.1", "sorl-thumbnail"], check=True
        )
    entries = [
        {"title": entry["title"], "text": entry["summary"].replace("**", ""), "url": entry["source_url"]}
        for section in issue.latest_revision().data["sections"]
        for entry in section["entries"]
    ]
    entries_path = VAR / "bench-entries.json"
    entries_path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    db = VAR / "newsletter.sqlite3"
    db.unlink(missing_ok=True)
    out = subprocess.run(
        [
            str(python),
            str(BASE / "bench" / "newsletter_compare.py"),
            str(SINK_PORT),
            str(size),
            str(entries_path),
            str(db),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["rate"] = result["sent"] / result["seconds"]
    return result


def main():
    if not os.path.exists(SINK):
        raise SystemExit(f"{SINK} is missing: install Debian's postfix (scripts/bench.sh does)")
    VAR.mkdir(parents=True, exist_ok=True)
    sizes = [int(n) for n in os.environ.get("BENCH_SIZES", "1000,10000").split(",")]
    issue = published_sample()
    sink = Sink(SINK_PORT)
    try:
        runs = [run(issue, size, sink) for size in sizes]
        for r in runs:
            print(
                f"{r['size']:>6} subscribers: {r['sent']} sent ({r['sink']} at the sink) in {r['seconds']:.1f} s = "
                f"{r['rate']:.0f}/s, peak worker RSS {r['peak_mib']:.0f} MiB, {r['groups']} preference groups"
            )
        message = sample_message(issue)
        ceiling_1 = sink_ceiling(message, 5000)
        ceiling_2 = sink_ceiling(message, 5000, processes=2)
        print(
            f"sink ceiling, {len(message) / 1024:.0f} KB pre-rendered: {ceiling_1:.0f}/s (1 process), "
            f"{ceiling_2:.0f}/s (2)"
        )
        newsletter = None
        if os.environ.get("BENCH_NEWSLETTER", "1") == "1":
            newsletter = newsletter_comparison(issue, sizes[-1])
            print(
                f"django-newsletter 1.2.1: {newsletter['sent']} in {newsletter['seconds']:.1f} s = "
                f"{newsletter['rate']:.0f}/s ({newsletter['message_bytes'] / 1024:.0f} KB messages)"
            )
    finally:
        sink.stop()
    write_results(runs, message, ceiling_1, ceiling_2, newsletter)


def database_version():
    if connection.vendor == "postgresql":
        version = connection.pg_version
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    return f"SQLite {connection.Database.sqlite_version}"


def write_results(runs, message, ceiling_1, ceiling_2, newsletter):
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "",
        f"## Digest fan-out — {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.machine()}, "
        f"Python {platform.python_version()}, database {database_version()}, Redis broker, sink Postfix smtp-sink "
        f"on loopback. Two Celery worker processes (`-P solo` × 2), chunks of {settings.SUBSCRIBERS_CHUNK_SIZE}. "
        "Command: `make bench` (bench/digests.py).",
        "",
        "| what | recipients | messages/s | seconds | peak worker RSS MiB | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| DGD digests, 2 workers | {r['size']:,} | {r['rate']:.0f} | {r['seconds']:.1f} | {r['peak_mib']:.0f} | "
            f"{r['sent']:,} sent, {r['failed']} failed, {r['sink']:,} counted by the sink; {r['groups']:,} preference "
            "groups |"
        )
    size_kb = len(message) / 1024
    lines.append(
        f"| sink ceiling, pre-rendered {size_kb:.0f} KB message, smtplib, 1 process | 5,000 | {ceiling_1:.0f} | "
        "| | one connection |"
    )
    lines.append(f"| sink ceiling, same, 2 processes | 5,000 | {ceiling_2:.0f} | | | one connection each |")
    if newsletter:
        ratio = runs[-1]["rate"] / newsletter["rate"]
        lines.append(
            f"| django-newsletter 1.2.1 (own venv, SQLite) | {newsletter['sent']:,} | {newsletter['rate']:.0f} | "
            f"{newsletter['seconds']:.1f} | | {newsletter['message_bytes'] / 1024:.0f} KB messages; DGD is "
            f"{ratio:.1f}× faster |"
        )
    else:
        lines.append("| django-newsletter 1.2.1 | | | | | left out (BENCH_NEWSLETTER=0) |")
    with open(BASE / "docs" / "benchmarks.md", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
