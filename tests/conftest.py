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
    settings.CACHES["default"]["KEY_FUNCTION"] = "tests.conftest.cache_key"
    config.addinivalue_line(
        "markers", "database_free: (set by conftest) touches no database; scripts/test.sh runs it on PostgreSQL only"
    )


@pytest.hookimpl(tryfirst=True)  # before `-m` selects
@pytest.hookimpl(tryfirst=True)  # before pytest-django's, which orders the tests by the database they use
def pytest_collection_modifyitems(items):
    """A test that asks for ``imported_sample`` uses the database (the fixture asks for it only when it runs, too
    late for pytest-django to order the test before the transactional ones, whose flush empties the tables the
    session's copy of the sample points to). Then mark the tests that touch no database: run once, on
    PostgreSQL; the SQLite pass has nothing to add."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        transactional = "transactional_db" in fixtures or "live_server" in fixtures
        if "imported_sample" in fixtures and not transactional and not item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.django_db)
    for item in items:
        uses_database = item.get_closest_marker("django_db") or "_django_db_helper" in getattr(item, "fixturenames", ())
        if not uses_database:
            item.add_marker(pytest.mark.database_free)


def _flushes(item):
    """Whether the test commits, so that pytest-django empties every table after it (a flush)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & {"transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}:
        return True
    marker = item.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


# The database as migrated (vocabulary, GB/T 2260, series, roles, content types), taken once per session.
_MIGRATED = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from tests.snapshot import TableSnapshot

    with django_db_blocker.unblock():
        _MIGRATED["state"] = TableSnapshot.take()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a test that committed, the flush has emptied every table: put the migrated state back, rows and ids
    as they were. So each test starts from the migrated database whatever ran before it on its worker (under
    pytest-xdist a worker takes whichever test comes next, so flushing tests come between the others)."""
    result = yield
    if nextitem is not None and "state" in _MIGRATED and _flushes(item):
        from django.db import transaction
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock(), transaction.atomic():
            _MIGRATED["state"].restore_all()
    return result


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

    _CACHE_KEYS["test"] = uuid.uuid4().hex[:8]
    yield
    _CACHE_KEYS["test"] = ""


# The running test's part of every cache key. A module global, not the cache object's key_prefix: Django keeps a
# cache object per thread, and a live server's thread (one for the whole session) must see each test's keys too.
_CACHE_KEYS = {"test": ""}


def cache_key(key, key_prefix, version):
    """The cache's KEY_FUNCTION under test: Django's default with the running test's part added."""
    return f"{key_prefix}-{_CACHE_KEYS['test']}:{version}:{key}"


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
def sales_client(client, sales):
    """The test client signed in as a salesperson (the library's reader)."""
    client.force_login(sales)
    return client


@pytest.fixture
def signed_in_queries(settings):
    """The queries a signed-in request makes before its view's own, when it checks a permission: the session,
    the user and the user's permissions (their own, their groups'); with a shared cache (Redis), the user
    alone (the session and the permission set are read from the cache: dgd/auth.py)."""
    return 1 if settings.DGD_CACHE_PERMISSIONS else 4


def _import_sample(sample_bytes):
    from issues.services import issue_import_newsletter

    return issue_import_newsletter(data=sample_bytes, source_name="dgd-2022-08-zhengwu.txt").issue


@pytest.fixture(scope="session")
def _sample_rows(django_db_setup, django_db_blocker):
    """The sample newsletter imported once per session: the rows the import writes, taken from a transaction
    that is then rolled back. Parsing, jieba and indexing cost seconds on a busy machine; putting the rows back
    costs milliseconds, and each test still gets a copy of its own to read or write (its transaction rolls it back).

    Session-scoped, so pytest sets it up before any test's database transaction: the import sees the database as
    migrated, not a test's rows (after a test that commits, the migrated state is put back: ``django_db_setup``).
    """
    from django.db import transaction

    from tests.snapshot import TableSnapshot, raise_sqlite_id_counters

    with open(SAMPLE, "rb") as f:
        data = f.read()
    with django_db_blocker.unblock(), transaction.atomic():
        before = TableSnapshot.take()
        raise_sqlite_id_counters()  # (PostgreSQL's sequences never go back: later ids are above the sample's)
        issue_pk = _import_sample(data).pk
        rows = TableSnapshot.take().changes_since(before)
        transaction.set_rollback(True)
    return rows, issue_pk


@pytest.fixture
def imported_sample(request, sample_bytes, _sample_rows):
    """The sample issue (31 entries), as ``import_newsletter`` stores it: the session's rows put back into the
    test's own transaction. A test on a live server imports it for real: its rows must be committed for the
    server's thread to see them."""
    from issues.models import Issue

    transactional = bool({"transactional_db", "live_server"} & set(request.fixturenames))
    if transactional:
        request.getfixturevalue("transactional_db" if transactional else "db")
        return _import_sample(sample_bytes)
    request.getfixturevalue("db")
    rows, issue_pk = _sample_rows
    rows.restore()
    return Issue.objects.get(pk=issue_pk)
