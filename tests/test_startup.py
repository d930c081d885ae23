"""A serving process prepares itself before its first request (``dgd.startup``, called by ``dgd.wsgi``)."""

import os
import subprocess
import sys

import pytest

PROBE = """
import gc
import dgd.wsgi
from policies import indexing
print(gc.get_freeze_count(), indexing._tokenizer is not None)
"""


@pytest.mark.embedded
def test_the_wsgi_process_loads_the_tokenizer_and_freezes_what_it_loaded():
    """The tokenizer is loaded before any request, and what is alive then is out of the collector's reach (a
    full collection walking it cost a request 100–120 ms)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgd.settings"}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    frozen, tokenizer_loaded = done.stdout.split()
    assert int(frozen) > 50_000 and tokenizer_loaded == "True"
