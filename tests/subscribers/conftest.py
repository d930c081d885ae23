import pytest

from tests.subscribers.smtp import SmtpServer


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        server.use_in(settings)
        yield server.recorder
