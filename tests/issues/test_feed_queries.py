"""The Atom feed reads each issue's latest revision in one query for all items, never one or two per item."""

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from issues.models import IssueStatus
from issues.workflow import revision_create
from tests.factories import IssueEntryFactory, IssueFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
# the issues with their latest revision's id, then those revisions (an anonymous reader: no session)
FEED_QUERIES = 2


def published_issues(count):
    issues = []
    for month in range(1, count + 1):
        issue = IssueFactory(
            year=2021 + month // 13,
            month=(month - 1) % 12 + 1,
            number=month,
            intro=f"第{month}期导读",
            status=IssueStatus.PUBLISHED,
            published_at=timezone.make_aware(datetime.datetime(2021, 1, 1, 9)) + datetime.timedelta(days=31 * month),
        )
        IssueEntryFactory(issue=issue)
        revision_create(issue=issue, by=None, reason="first")
        revision_create(issue=issue, by=None, reason="corrected")  # the feed shows the latest of two
        issues.append(issue)
    return issues


def feed_entries(client):
    response = client.get("/issues/feed/")
    assert response.status_code == 200
    return ET.fromstring(response.content).findall(f"{ATOM}entry")


@pytest.mark.parametrize("count", [1, 8])
def test_the_feed_makes_a_fixed_number_of_queries(client, count, django_assert_num_queries):
    published_issues(count)
    with django_assert_num_queries(FEED_QUERIES):
        entries = feed_entries(client)
    assert len(entries) == count


def test_each_item_shows_its_latest_revision(client):
    (issue,) = published_issues(1)
    latest = issue.revisions.order_by("-number").first()
    latest.data = {**latest.data, "intro": "更正后的导读"}
    latest.save()
    (entry,) = feed_entries(client)
    assert "更正后的导读" in entry.find(f"{ATOM}summary").text
    updated = datetime.datetime.fromisoformat(entry.find(f"{ATOM}updated").text)
    assert updated == latest.created_at
