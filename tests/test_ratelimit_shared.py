"""Rate limits hold in production: one counter in Redis for every gunicorn worker, counted atomically, keyed on
the client's address as the trusted proxy reports it (never on a client-chosen X-Forwarded-For entry)."""

import os
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.test import RequestFactory

from dgd.client_ip import client_ip
from subscribers.models import ConfirmationRequest, Subscriber
from subscribers.ratelimit import hit, over_limit
from tests.test_settings import PRODUCTION, run

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


# --- The client's address ---------------------------------------------------------------------------------


def meta(remote="10.0.0.1", forwarded=None):
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("count", "remote", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "203.0.113.9", "198.51.100.7"),  # no proxy: the header is the client's own words
        (1, "10.0.0.1", "203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a spoofed leftmost entry is ignored
        (1, "10.0.0.1", "6.6.6.6,7.7.7.7 , 203.0.113.9", "203.0.113.9"),
        (2, "10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "10.0.0.1", "203.0.113.9", "10.0.0.1"),  # fewer hops than proxies: not trusted
        (1, "10.0.0.1", None, "10.0.0.1"),
        (1, "10.0.0.1", "", "10.0.0.1"),
        (1, "10.0.0.1", "not-an-address", "10.0.0.1"),
        (1, "10.0.0.1", "203.0.113.9:4711", "203.0.113.9"),
        (1, "10.0.0.1", "[2001:DB8::1]:443", "2001:db8::1"),
        (1, "10.0.0.1", "2001:db8:0:0::1", "2001:db8::1"),
    ],
)
def test_the_client_address_is_the_nth_from_the_right(settings, count, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_ip(meta(remote, forwarded)) == expected


@pytest.mark.embedded
def test_axes_uses_the_same_helper(settings):
    from axes.helpers import get_client_ip_address

    settings.TRUSTED_PROXY_COUNT = 1
    request = meta("10.0.0.1", "6.6.6.6, 203.0.113.9")
    assert get_client_ip_address(request) == client_ip(request) == "203.0.113.9"


# --- The cache setting ----------------------------------------------------------------------------------------


def cache_settings(**env):
    code = "from django.conf import settings as s; c = s.CACHES['default']; "
    code += "print(c['BACKEND'], c.get('LOCATION', '-'), s.TRUSTED_PROXY_COUNT, s.AXES_CLIENT_IP_CALLABLE)"
    result = run("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split()


@pytest.mark.embedded
def test_redis_is_the_default_cache_when_configured_and_local_memory_otherwise():
    assert cache_settings(**PRODUCTION) == [
        "django.core.cache.backends.redis.RedisCache",
        PRODUCTION["REDIS_URL"],
        "0",
        "dgd.client_ip.client_ip",
    ]
    assert cache_settings(TRUSTED_PROXY_COUNT="2")[:3] == ["django.core.cache.backends.locmem.LocMemCache", "-", "2"]


# --- The counter ----------------------------------------------------------------------------------------------


@pytest.fixture
def redis_cache(settings):
    prefix = f"test-ratelimit-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    client = redis.Redis.from_url(REDIS_URL)
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.mark.redis
def test_the_redis_counter_always_has_a_window(redis_cache):
    client, prefix = redis_cache
    assert [hit("k", 60) for _ in range(3)] == [1, 2, 3]
    [key] = list(client.scan_iter(f"{prefix}:*"))
    assert 0 < client.ttl(key) <= 60
    client.persist(key)  # a counter left without expiry (as a non-atomic add/incr could leave it) gets one
    assert hit("k", 60) == 4 and 0 < client.ttl(key) <= 60
    assert over_limit("other", "2/60") is False and over_limit("other", "2/60") is False
    assert over_limit("other", "2/60") is True


HAMMER = """
import os, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "dgd.settings"
django.setup()
from django.conf import settings
settings.CACHES["default"].update(
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": sys.argv[1], "KEY_PREFIX": sys.argv[2]}
)
from subscribers.ratelimit import over_limit
print(sum(not over_limit("ip:203.0.113.1", "25/3600") for _ in range(20)))
"""


@pytest.mark.redis
def test_independent_processes_share_one_exact_count(redis_cache):
    _, prefix = redis_cache
    processes = [
        subprocess.Popen([sys.executable, "-c", HAMMER, REDIS_URL, prefix], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    allowed = [int(process.communicate(timeout=60)[0].split()[-1]) for process in processes]
    assert sum(allowed) == 25  # of 60 hits from three processes


# --- gunicorn, three workers, production settings -------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path_factory):
    """The production stack in miniature: DEBUG off, three gunicorn workers, the Redis cache (a key prefix of
    this test's own), the test database, one TLS proxy in front (TRUSTED_PROXY_COUNT=1)."""
    var = tmp_path_factory.mktemp("var")
    db = connection.settings_dict
    prefix = f"test-gunicorn-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DEBUG="false",
        SECRET_KEY="gunicorn-test-" + uuid.uuid4().hex * 2,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL="postgres://{}:{}@{}:{}/{}".format(
            db["USER"], db["PASSWORD"] or "", db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["NAME"]
        ),
        CONN_MAX_AGE="0",
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=prefix,
        CELERY_BROKER_URL="memory://",  # no worker here: the confirmation mails are not the point
        DGD_VAR_DIR=str(var),
        TRUSTED_PROXY_COUNT="1",
        SUBSCRIBERS_RATE_LIMIT="5/3600",
        SUBSCRIBERS_EMAIL_RATE_LIMIT="3/3600",
    )
    python = sys.executable
    # The pages need the static manifest (DEBUG off); the admin's files are left out to keep this quick.
    static = ["collectstatic", "--noinput", "-v0", "-i", "admin", "-i", "import_export", "-i", "adminsortable2"]
    subprocess.run([python, "manage.py", *static], cwd=ROOT, env=env, check=True, timeout=120)
    port = _free_port()
    gunicorn_bin = str(Path(python).with_name("gunicorn"))
    command = [gunicorn_bin, "dgd.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "3"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if request(url, "GET", "/subscribe/", headers=PROXY_HEADERS)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not start")
        yield url
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode(errors="replace")
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        assert "Traceback" not in output, output[-4000:]


PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.250"}
CSRF = "a" * 32  # a CSRF secret of our own: cookie and form field agree, as a browser's would


def request(url, method, path, *, body=None, headers=()):
    """``(status, text)`` of one request on a connection of its own."""
    connection = HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def post(url, email, client, spoof):
    body = urllib.parse.urlencode({"email": email, "scope": "whole", "consent": "on", "csrfmiddlewaretoken": CSRF})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-Proto": "https",
        # What the proxy appends is the last entry; whatever the client sent stays on its left.
        "X-Forwarded-For": f"{spoof}, {client}",
        "Origin": url.replace("http://", "https://"),
        "Cookie": f"csrftoken={CSRF}",
    }
    return request(url, "POST", "/subscribe/", body=body, headers=headers)


@pytest.mark.redis
def test_three_gunicorn_workers_let_exactly_the_limit_through(gunicorn):
    # One client, 24 requests, 8 at a time (so all three workers take some), each with another spoofed
    # leftmost X-Forwarded-For entry: the per-address limit is 5.
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: post(gunicorn, f"a{i}@example.org", "203.0.113.7", f"10.9.8.{i}"), range(24)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [302] * 5 + [429] * 19, statuses
    assert all("请求过于频繁" in text for status, text in answers if status == 429)
    assert Subscriber.objects.count() == 5
    # Behind the same proxy, someone else is not held back by that client.
    assert post(gunicorn, "b@example.org", "203.0.113.8", "10.9.8.1")[0] == 302

    # One victim address, asked for from 12 different clients: the same answer every time, 3 confirmation
    # requests (mails) at most.
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda i: post(gunicorn, "victim@example.org", f"198.51.100.{i}", "10.0.0.1"), range(12))
        )
    assert [status for status, _ in answers] == [302] * 12
    assert ConfirmationRequest.objects.filter(subscriber__email="victim@example.org").count() == 3
