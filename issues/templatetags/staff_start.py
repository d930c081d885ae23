"""The staff start page on the admin index: 待我审核, 我的草稿, 本月已就绪条目, 最近发布."""

import datetime

from django import template
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from issues.models import Issue, IssueEvent, IssueStatus
from policies.models import Entry

register = template.Library()

LIMIT = 8


def _month_bounds(today):
    first = today.replace(day=1)
    following = datetime.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following


def awaiting_my_review(user):
    """Issues in review that ``user`` may approve: not the ones they submitted themselves (unless allowed)."""
    if not user.has_perm("issues.approve_issue"):
        return []
    issues = list(Issue.objects.filter(status=IssueStatus.IN_REVIEW).select_related("series").order_by("-year"))
    if settings.ISSUES_ALLOW_SELF_APPROVAL or not issues:
        return issues[:LIMIT]
    latest_submitter = {}
    submits = IssueEvent.objects.filter(issue__in=issues, action="submit").order_by("created_at", "id")
    for issue_id, actor_id in submits.values_list("issue_id", "actor_id"):
        latest_submitter[issue_id] = actor_id
    return [issue for issue in issues if latest_submitter.get(issue.pk) != user.pk][:LIMIT]


def my_drafts(user):
    """Drafts ``user`` created or submitted (and got back)."""
    # Two IN subqueries, not a UNION: SQLite (the embedded default) refuses the history's ordering inside one.
    created = Issue.history.filter(history_type="+", history_user=user).order_by().values("id")
    submitted = IssueEvent.objects.filter(action="submit", actor=user).order_by().values("issue_id")
    return list(
        Issue.objects.filter(status=IssueStatus.DRAFT)
        .filter(Q(pk__in=created) | Q(pk__in=submitted))
        .select_related("series")
        .order_by("-year", "-month")[:LIMIT]
    )


@register.simple_tag(takes_context=True)
def staff_start_page(context):
    user = context["request"].user
    first, following = _month_bounds(timezone.localdate())
    ready = Entry.objects.ready().filter(published_on__gte=first, published_on__lt=following)
    return {
        "awaiting_review": awaiting_my_review(user),
        "may_approve": user.has_perm("issues.approve_issue"),
        "my_drafts": my_drafts(user) if user.has_perm("issues.change_issue") else [],
        "may_edit_issues": user.has_perm("issues.change_issue"),
        "ready_count": ready.count() if user.has_perm("policies.view_entry") else 0,
        "ready_entries": list(ready.order_by("-published_on", "-pk")[:LIMIT])
        if user.has_perm("policies.view_entry")
        else [],
        "ready_filter": f"status__exact=ready&published_on__gte={first.isoformat()}"
        f"&published_on__lt={following.isoformat()}",
        "month": first,
        "recently_published": list(Issue.objects.published().select_related("series").order_by("-published_at")[:5])
        if user.has_perm("issues.view_issue")
        else [],
    }
