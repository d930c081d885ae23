"""The delivery fault drill (docs/delivery.md): a digest send through every fault at once, checked message for
message against what the SMTP server received.

It starts its own Redis and its own PostgreSQL cluster on free ports (never the developer's or CI's services),
a real Celery worker with beat, and an SMTP server on loopback slowed so that the send lasts about a minute.
It publishes the sample issue to N confirmed subscribers through the workflow, and during the send:
kills the worker with -9 and restarts it, restarts Redis (no persistence: every queued task is gone),
restarts PostgreSQL, kills the worker with -9 again, then makes the SMTP server drop every connection and
answer 451 for a while. Then it waits, unattended, and compares ``delivery_report`` with the server's mail.

    make drill                         # 3,000 subscribers, production settings (lease 30 s, check every 15 s)
    python -m bench.drill --quick      # 300 subscribers, short leases: what tests/subscribers/test_drill.py runs

The last line is ``DRILL {json}``; the exit status is 0 when nothing was lost, no more messages were repeated
than processes killed, the send finished within 90 s of the last fault and the report agrees with the server.
"""

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import Counter
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("DRILL_PG_BIN", "/usr/lib/postgresql/15/bin"))
FINISH_WITHIN = 90  # seconds from the last fault to the last mail
SAMPLE = BASE / "issues" / "fixtures" / "dgd-2022-08-zhengwu.txt"

# The drill's two profiles. "full" runs the production defaults; "quick" shortens the lease, the stall and the
# check's interval so that a few hundred subscribers ride through every fault in well under a minute.
PROFILES = {
    "full": {"subscribers": 3000, "delay": 0.04, "refuse": 5.0, "env": {}},
    "quick": {
        "subscribers": 300,
        "delay": 0.05,
        "refuse": 1.0,
        "env": {
            "SUBSCRIBERS_CHUNK_SIZE": "25",
            "SUBSCRIBERS_LEASE": "3",
            "SUBSCRIBERS_STALL": "2",
            "SUBSCRIBERS_CHECK_INTERVAL": "1",
            "SUBSCRIBERS_FANOUT_GRACE": "2",
            "SUBSCRIBERS_RETRY_BACKOFF": "1",
        },
    },
}


STARTED = time.monotonic()


def say(message):
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


# --- The services the drill owns -----------------------------------------------------------------------


class Redis:
    """redis-server without persistence: a restart comes back empty, as the issue's Redis did."""

    def __init__(self, workdir):
        self.port, self.workdir, self.proc = free_port(), workdir, None

    def start(self):
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *("--maxmemory-policy", "noeviction", "--dir", str(self.workdir)),
            ],
            stdout=(self.workdir / "redis.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def restart(self):
        self.stop()
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"


class Postgres:
    """A PostgreSQL 15 cluster of its own in a temporary directory (initdb refuses root: run as postgres)."""

    def __init__(self, workdir):
        self.port, self.data = free_port(), workdir / "pgdata"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args):
        subprocess.run([*self.as_postgres, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self):
        self.data.mkdir()
        if self.as_postgres:
            shutil.chown(self.data, "postgres")
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        self._run(*initdb, "-E", "UTF8", "--locale=C.UTF-8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.data}'\n"
                "max_connections = 50\nshared_buffers = 64MB\n"
            )
        self.start()
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE dgd")

    def ctl(self, *args):
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", *args)

    def start(self):
        self.ctl("start")

    def restart(self):
        self.ctl("restart", "-m", "fast")

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            self.ctl("stop", "-m", "immediate")

    def dsn(self, name="dgd"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


class Recorder:
    """The SMTP server's side: every Message-ID it accepted, slowed by ``delay`` a message; on demand it drops
    every connection and answers 451 until ``refuse_until``."""

    def __init__(self, delay):
        self.delay, self.refuse_until = delay, 0.0
        self.lock = threading.Lock()
        self.received = Counter()
        self.first_at = self.last_at = None
        self.refused = 0
        self.sessions = weakref.WeakSet()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if time.monotonic() < self.refuse_until:
            self.refused += 1
            return "451 4.3.0 drill: try again later"
        found = re.search(rb"^Message-ID:\s*(<[^>]+>)", envelope.content, re.MULTILINE | re.IGNORECASE)
        with self.lock:
            self.received[found.group(1).decode() if found else "?"] += 1
            self.last_at = time.time()
            self.first_at = self.first_at or self.last_at
        return "250 2.0.0 OK"

    def count(self):
        with self.lock:
            return sum(self.received.values())


def smtp_server(recorder):
    from aiosmtpd.controller import Controller

    class Tracking(Controller):
        def factory(self):
            server = super().factory()
            recorder.sessions.add(server)
            return server

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port = free_port()
    controller = Tracking(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def smtp_disconnect_all(controller, recorder):
    def drop():
        for server in list(recorder.sessions):
            if getattr(server, "transport", None) is not None:
                server.transport.close()

    controller.loop.call_soon_threadsafe(drop)


class Worker:
    """``celery -A dgd worker -B`` with two pool processes, in a process group of its own (kill -9 takes the
    main process, the pool and the beat)."""

    def __init__(self, env, workdir):
        self.env, self.workdir, self.proc, self.runs = env, workdir, None, 0

    def start(self):
        self.runs += 1
        log = self.workdir / f"worker-{self.runs}.log"
        celery = Path(sys.executable).with_name("celery")
        self.proc = subprocess.Popen(
            [
                *(str(celery), "-A", "dgd", "worker", "-B", "-s", str(self.workdir / "beat-schedule")),
                *("--concurrency", "2", "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"),
                *("-n", f"drill{self.runs}@%h"),
            ],
            cwd=BASE,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def pool_processes(self):
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [int(pid) for pid in out if int(pid) != self.proc.pid]

    def kill(self):
        """kill -9 of the whole worker; returns how many pool processes (the ones that send) it took."""
        pool = len(self.pool_processes())
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return min(pool, 2)  # the beat is a process of the group too, and sends no mail

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


# --- The drill --------------------------------------------------------------------------------------------


def setup_django(env):
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dgd.settings"
    sys.path.insert(0, str(BASE))
    import django

    django.setup()


def prepare(subscribers):
    """Migrate, seed the confirmed subscribers (all take the whole issue: everyone gets a digest) and import
    the sample issue as a draft; returns it and a chief editor (a superuser) to publish it."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from demo.subscribers import seed_subscribers
    from issues.services import issue_import_newsletter
    from subscribers.models import Scope, Subscriber

    call_command("migrate", verbosity=0)
    seed_subscribers(count=subscribers, seed=1)
    Subscriber.objects.update(scope=Scope.WHOLE)
    issue = issue_import_newsletter(data=SAMPLE.read_bytes(), source_name=SAMPLE.name, draft=True).issue
    chief = get_user_model().objects.create_superuser("drill", "drill@localhost", None)
    return issue, chief


def publish(issue, chief):
    """Submitted by a second account (a chief editor may not approve what they submitted), then published."""
    from django.contrib.auth import get_user_model

    from issues.workflow import issue_transition

    author, _ = get_user_model().objects.get_or_create(
        username="drill-author", defaults={"is_staff": True, "is_superuser": True}
    )
    issue_transition(issue=issue, action="submit", by=author)
    for action in ("approve", "publish"):
        issue_transition(issue=issue, action=action, by=chief)


def report(issue_id):
    """``delivery_report``'s numbers, through a database that may be restarting."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.utils import Error

    try:
        out = _Capture()
        call_command("delivery_report", str(issue_id), "--format", "json", stdout=out)
        return json.loads(out.text)
    except Error:
        connection.close()
        return None


class _Capture:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def run(profile_name, subscribers=None, keep=False):
    profile = PROFILES[profile_name]
    subscribers = subscribers or profile["subscribers"]
    workdir = Path(tempfile.mkdtemp(prefix="dgd-drill-"))
    os.chmod(workdir, 0o755)
    redis, postgres = Redis(workdir), Postgres(workdir)
    recorder = Recorder(profile["delay"])
    controller = worker = None
    faults, killed = [], 0
    try:
        say(f"own PostgreSQL on port {postgres.port}, own Redis on port {redis.port}, in {workdir}")
        postgres.init()
        redis.start()
        controller, smtp_port = smtp_server(recorder)
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{postgres.port}/dgd",
            "REDIS_URL": redis.url,
            "CELERY_BROKER_URL": redis.url,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "DGD_VAR_DIR": str(workdir / "var"),
            "SITE_URL": "http://drill.invalid",
            **profile["env"],
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        setup_django(env)
        started = time.monotonic()
        issue, chief = prepare(subscribers)
        say(f"migrated and seeded {subscribers} confirmed subscribers in {time.monotonic() - started:.0f} s")
        worker = Worker(env, workdir)
        worker.start()
        publish(issue, chief)
        say(f"published {issue}; the fan-out runs in the worker")

        def wait_mail(n):
            deadline = time.monotonic() + 120
            while recorder.count() < n and time.monotonic() < deadline:
                time.sleep(0.05)

        def fault(name, action):
            say(f"fault: {name} (after {recorder.count()} messages)")
            action()
            faults.append((name, time.time()))

        # Each fault comes once a further sixth of the mail has arrived, so that every fault, the SMTP server's
        # last, strikes in mid-send whatever the machine's pace.
        def milestone(n):
            wait_mail(subscribers * n // 12)

        wait_mail(subscribers // 12)
        killed += worker.kill()
        fault("kill -9 the worker", worker.start)
        milestone(3)
        fault("restart Redis, empty", redis.restart)
        milestone(5)
        fault("restart PostgreSQL", postgres.restart)
        milestone(7)
        killed += worker.kill()
        fault("kill -9 the worker again", worker.start)
        milestone(9)

        def smtp_trouble():
            recorder.refuse_until = time.monotonic() + profile["refuse"]
            smtp_disconnect_all(controller, recorder)
            time.sleep(profile["refuse"])

        fault(f"SMTP drops every connection and answers 451 for {profile['refuse']:.0f} s", smtp_trouble)
        last_fault = faults[-1][1]
        say("faults over; waiting for the send to finish unattended")

        deadline = time.monotonic() + 300
        counts = None
        while time.monotonic() < deadline:
            counts = report(issue.pk)
            if counts and counts["total"] and counts["pending"] == 0:
                break
            time.sleep(0.5)
        time.sleep(1)  # a message accepted just now is recorded in the same instant; let the last marks land
        counts = report(issue.pk) or counts
        return verdict(issue, counts, recorder, killed, last_fault, faults)
    finally:
        if worker:
            worker.stop()
        if controller:
            controller.stop()
        redis.stop()
        postgres.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"kept {workdir}")


def verdict(issue, counts, recorder, killed, last_fault, faults):
    from subscribers.digests import message_id
    from subscribers.models import Delivery, DeliveryStatus

    rows = list(Delivery.objects.filter(issue=issue).values_list("subscriber_id", "status"))
    expected = {message_id(issue_id=issue.pk, subscriber_id=pk) for pk, status in rows if status != "skipped"}
    recorded_sent = {
        message_id(issue_id=issue.pk, subscriber_id=pk) for pk, status in rows if status == DeliveryStatus.SENT
    }
    received = recorder.received
    lost = len(expected - set(received))
    duplicated = sum(n - 1 for n in received.values())
    after_last_fault = (recorder.last_at or last_fault) - last_fault
    agrees = recorded_sent == set(received) and counts is not None and counts["sent"] == len(received)
    result = {
        "subscribers": len(rows),
        "report": counts,
        "received": sum(received.values()),
        "lost": lost,
        "duplicated": duplicated,
        "processes_killed": killed,
        "refused_451": recorder.refused,
        "seconds_last_fault_to_last_mail": round(after_last_fault, 1),
        "send_seconds": round((recorder.last_at or 0) - (recorder.first_at or 0), 1),
        "report_agrees": agrees,
        "faults": [name for name, _ in faults],
    }
    result["ok"] = (
        lost == 0
        and duplicated <= killed
        and after_last_fault <= FINISH_WITHIN
        and agrees
        and counts is not None
        and counts["pending"] == 0
        and counts["failed"] == 0
    )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="300 subscribers, short leases (the test's drill)")
    parser.add_argument("--subscribers", type=int, help="confirmed subscribers (3,000; 300 with --quick)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, cluster)")
    args = parser.parse_args(argv)
    result = run("quick" if args.quick else "full", subscribers=args.subscribers, keep=args.keep)
    say(
        f"lost {result['lost']}, duplicated {result['duplicated']} (processes killed: {result['processes_killed']}), "
        f"{result['seconds_last_fault_to_last_mail']} s from the last fault to the last mail; "
        f"delivery_report {result['report']} {'agrees' if result['report_agrees'] else 'DISAGREES'} with the "
        f"{result['received']} messages the SMTP server received"
    )
    print("DRILL " + json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
