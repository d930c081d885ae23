"""The fault drill (bench/drill.py), short: 300 subscribers through two kill -9s of the worker, an emptied Redis, a
PostgreSQL restart and an SMTP server that drops every connection and answers 451 — on the drill's own Redis,
PostgreSQL cluster, worker and SMTP server, never the suite's."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [pytest.mark.redis]


def test_the_short_drill_loses_nothing_and_repeats_at_most_one_message_per_killed_process():
    assert shutil.which("redis-server"), "the drill starts a Redis of its own"
    assert Path("/usr/lib/postgresql/15/bin/initdb").exists(), "the drill starts a PostgreSQL cluster of its own"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "DJANGO"))}
    run = subprocess.run(
        [sys.executable, "-m", "bench.drill", "--quick"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("DRILL ")]
    assert lines, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("DRILL "))
    assert result["subscribers"] == 300
    assert result["report"] == {"total": 300, "sent": 300, "failed": 0, "pending": 0, "skipped": 0}
    assert result["lost"] == 0
    assert result["duplicated"] <= result["processes_killed"] == 4
    assert result["report_agrees"]  # delivery_report's sent rows are exactly the messages the server took
    assert result["refused_451"] > 0  # the 451s really happened during the send
    assert len(result["faults"]) == 5  # how long it took is the drill's to report, not this test's to judge
