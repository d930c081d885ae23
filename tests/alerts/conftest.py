"""Fixtures of the alert tests: a real SMTP server on loopback, saved filters made alerts, entries marked ready
through the one service that does it."""

import datetime
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from alerts.services import alert_set_frequency
from library.models import SavedFilter
from policies.models import Entry, Status
from policies.services import entry_mark_ready
from tests.browser.conftest import browser_context_args, browser_type_launch_args, js_errors, page  # noqa: F401
from tests.factories import EntryFactory, UserFactory
from tests.subscribers.smtp import SmtpServer

JIANGSU, ZHEJIANG = 320000, 330000


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        server.use_in(settings)
        yield server.recorder


def saved_alert(user, name, frequency="instant", *, now=None, **params):
    """A saved filter of ``user`` with the library parameters ``params``, made an alert of ``frequency``."""
    pairs = [
        (key, value) for key, values in params.items() for value in (values if isinstance(values, list) else [values])
    ]
    saved = SavedFilter.objects.create(user=user, name=name, query=urlencode(pairs))
    alert_set_frequency(user=user, saved_filter_id=saved.pk, frequency=frequency, now=now)
    return saved


def ready_entry(by, **fields):
    """An entry written as a draft, then marked ready by ``by`` through ``entry_mark_ready`` (which indexes it)."""
    entry = EntryFactory(status=Status.DRAFT, **fields)
    entry_mark_ready(entries=[entry], by=by)
    return Entry.objects.get(pk=entry.pk)  # loaded afresh: what it remembers of its guarded fields is current


def later(minutes=1):
    return timezone.now() + datetime.timedelta(minutes=minutes)


@pytest.fixture
def salesperson(db):
    return UserFactory(role="sales")
