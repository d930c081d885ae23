import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

from tests.factories import UserFactory


def pytest_configure(config):
    """With REDIS_URL set the default cache is Redis, which outlives the test run: a prefix of this run's own
    keeps cached facet counts and rate-limit counters of earlier runs (other ids, other data) out of it."""
    import uuid

    from django.conf import settings

    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"


SAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "issues", "fixtures", "dgd-2022-08-zhengwu.txt")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Rendered files (PDFs) go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_cache_keys():
    """Each test reads and writes cache keys of its own: catalogue versions restart with every test's database,
    so facet counts cached by an earlier test under the same version would be read back. (A prefix, not
    ``cache.clear()``: on Redis that flushes the whole database, Celery's queues with it.)"""
    import uuid

    from django.core.cache import cache

    run_prefix = cache.key_prefix
    cache.key_prefix = f"{run_prefix}-{uuid.uuid4().hex[:8]}"
    yield
    cache.key_prefix = run_prefix


@pytest.fixture(scope="session", autouse=True)
def _static_root():
    from django.conf import settings

    os.makedirs(settings.STATIC_ROOT, exist_ok=True)  # whitenoise warns about a missing one


@pytest.fixture
def sample_bytes():
    with open(SAMPLE, "rb") as f:
        return f.read()


@pytest.fixture
def sample_text(sample_bytes):
    return sample_bytes.decode("utf-8")


@pytest.fixture
def catalogue_data(django_db_blocker):
    """What the data migrations load (regions, themes, partners, the series, the roles).

    Plain tests see it already; tests on a live server flush the tables after themselves, so they ask
    for it again.
    """
    from dgd.roles import ensure_roles
    from issues.models import Series
    from policies.vocabulary import ensure_vocabulary

    with django_db_blocker.unblock():
        ensure_vocabulary()
        ensure_roles()
        Series.objects.get_or_create(slug="zhengwu", defaults={"name": "政务服务分册"})


@pytest.fixture
def eager_celery():
    """Tasks run in the calling process (the integration tests use a real worker instead)."""
    from dgd.celery import app as celery_app

    before = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture
def researcher(db):
    return UserFactory(role="researcher")


@pytest.fixture
def chief_editor(db):
    return UserFactory(role="chief_editor")


@pytest.fixture
def sales(db):
    return UserFactory(role="sales")


@pytest.fixture
def imported_sample(db, sample_bytes):
    from issues.services import issue_import_newsletter

    return issue_import_newsletter(data=sample_bytes, source_name="dgd-2022-08-zhengwu.txt").issue
