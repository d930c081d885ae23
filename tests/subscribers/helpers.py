import re

from issues.services import issue_import_newsletter
from issues.workflow import issue_approve, issue_publish, issue_submit
from subscribers.models import Scope, Subscriber, SubscriberStatus
from tests.conftest import SAMPLE
from tests.factories import UserFactory


def publish_sample(chief):
    """Import the sample issue as a draft and take it through the workflow to published: a researcher submits
    it (a chief editor may not approve an issue they submitted), ``chief`` approves and publishes."""
    with open(SAMPLE, "rb") as f:
        issue = issue_import_newsletter(data=f.read(), source_name="dgd-2022-08-zhengwu.txt", draft=True).issue
    issue_submit(issue=issue, by=UserFactory(role="researcher"))
    issue_approve(issue=issue, by=chief)
    issue_publish(issue=issue, by=chief)
    issue.refresh_from_db()
    return issue


def make_subscriber(email, *, status=SubscriberStatus.CONFIRMED, scope=Scope.WHOLE, provinces=(), themes=(), name=""):
    subscriber = Subscriber.objects.create(email=email, name=name, status=status, scope=scope)
    subscriber.provinces.set(provinces)
    if themes:
        from policies.models import Theme

        subscriber.themes.set(Theme.objects.filter(slug__in=themes))
    return subscriber


def links_in(text):
    return re.findall(r"https?://[^\s\"<>]+", text)
