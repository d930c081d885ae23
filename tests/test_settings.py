"""Settings come from the environment: embedded defaults on a laptop, a refusal to start half-configured."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.embedded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-for-the-deploy-check-0123456789",
    "ALLOWED_HOSTS": "dgd.example.org",
    "DATABASE_URL": "postgres://dgd@db.example.org:5432/dgd",
    "REDIS_URL": "redis://redis.example.org:6379/0",
    "EMAIL_URL": "smtp://relay.example.org:25",
}
CLEARED = (
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
)


def run(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in CLEARED}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def settings_of(*names, **env):
    """The values of several settings, read in one start-up under the environment ``env`` (a start-up costs seconds)."""
    code = "import json; from django.conf import settings as s; print(json.dumps([str(eval('s.' + n)) for n in %r]))"
    result = run("shell", "-c", code % (names,), **env)
    assert result.returncode == 0, result.stderr
    return dict(zip(names, json.loads(result.stdout.strip().splitlines()[-1]), strict=True))


def test_with_nothing_set_it_runs_on_the_embedded_defaults():
    assert settings_of(
        "DATABASES['default']['ENGINE']", "CELERY_BROKER_URL", "EMAIL_BACKEND", "DEBUG", "TIME_ZONE", "LANGUAGE_CODE"
    ) == {
        "DATABASES['default']['ENGINE']": "django.db.backends.sqlite3",
        "CELERY_BROKER_URL": "filesystem://",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DEBUG": "True",
        "TIME_ZONE": "Asia/Shanghai",
        "LANGUAGE_CODE": "zh-hans",
    }


def test_the_environment_selects_the_production_stack():
    assert settings_of(
        "DATABASES['default']['ENGINE']", "CELERY_BROKER_URL", "EMAIL_BACKEND", "EMAIL_HOST", **PRODUCTION
    ) == {
        "DATABASES['default']['ENGINE']": "django.db.backends.postgresql",
        "CELERY_BROKER_URL": "redis://redis.example.org:6379/0",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "relay.example.org",
    }


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_debug_off_refuses_to_start_without_a_secret_or_hosts(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_the_deploy_check_is_clean_with_production_settings():
    result = run("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_inbox_s_settings_come_from_the_environment_with_their_defaults():
    names = ["SOURCES_HOST_DELAY", "SOURCES_MAX_ITEMS", "SOURCES_ALLOW_LOOPBACK", "SOURCES_ALLOW_PRIVATE_HOSTS"]
    code = f"from django.conf import settings; print([getattr(settings, name) for name in {names}])"

    def values(**env):
        result = run("shell", "-c", code, **env)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    assert values() == "[2.0, 100, False, False]"
    env = {"SOURCES_HOST_DELAY": "0.5", "SOURCES_MAX_ITEMS": "20", "SOURCES_ALLOW_LOOPBACK": "true"}
    assert values(**env) == "[0.5, 20, True, False]"
    result = run("check", SOURCES_HOST_DELAY="-1")
    assert result.returncode != 0 and "SOURCES_HOST_DELAY must be 0 or more" in result.stderr
