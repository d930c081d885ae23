import pytest

from dgd.celery import app as celery_app
from tests.subscribers.smtp import SmtpServer


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        server.use_in(settings)
        yield server.recorder


@pytest.fixture
def eager_celery():
    """Tasks run in the calling process (the integration tests use a real worker instead)."""
    before = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before
