"""Assembling a month's issue from the ready entries of the month."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied

from issues.models import IssueStatus
from issues.selectors import issue_sections
from issues.services import AssemblyError, issue_assemble, issue_regenerate_intro
from policies.models import Kind, Level, Status
from tests.factories import EntryFactory, IssueEntryFactory, IssueFactory, PracticeEntryFactory

pytestmark = [pytest.mark.django_db]

AUGUST = datetime.date(2022, 8, 10)


@pytest.fixture
def august(db):
    return IssueFactory(year=2022, month=8, number=4, status=IssueStatus.DRAFT, intro="")


def numbered(issue):
    return [(n.number, n.entry.title) for s in issue_sections(issue) for n in s.items]


def test_assembly_pulls_the_months_ready_entries_into_their_sections_in_order(august, researcher):
    EntryFactory(title="浙江政策", level=Level.PROVINCIAL, regions=[330000], published_on=AUGUST)
    EntryFactory(title="部委政策", level=Level.MINISTRY, issuer="市场监管总局", published_on=AUGUST)
    EntryFactory(title="北京政策", level=Level.PROVINCIAL, regions=[110000], published_on=AUGUST)
    EntryFactory(title="国务院政策", level=Level.NATIONAL, issuer="国务院", published_on=datetime.date(2022, 8, 31))
    PracticeEntryFactory(title="江苏实践", regions=[320000], published_on=AUGUST)
    EntryFactory(kind=Kind.ANALYSIS, title="解读浙江政策", level="", published_on=AUGUST)
    EntryFactory(kind=Kind.BRIEFING, title="国新办吹风会", level=Level.NATIONAL, published_on=AUGUST)
    # not pulled in: a draft, another month, an entry already in another issue
    EntryFactory(title="草稿政策", status=Status.DRAFT, published_on=AUGUST)
    EntryFactory(title="九月政策", published_on=datetime.date(2022, 9, 1))
    IssueEntryFactory(issue__year=2021, issue__month=8, entry__title="已收录政策", entry__published_on=AUGUST)

    added = issue_assemble(issue=august, by=researcher)

    assert added == 7
    assert numbered(august) == [
        ("1.1", "国务院政策"),
        ("1.2", "部委政策"),
        ("2.1", "北京政策"),
        ("2.2", "浙江政策"),
        ("3.1", "江苏实践"),
        ("4.1", "解读浙江政策"),
        ("5.1", "国新办吹风会"),
    ]
    august.refresh_from_db()
    assert august.intro.startswith("《数字政府动态——政务服务分册》8月刊选取国家级、部委、省级重要政策4条")
    assert issue_assemble(issue=august, by=researcher) == 0  # nothing left to pull in
    assert len(numbered(august)) == 7


def test_assembly_keeps_what_the_editor_placed_and_appends_after_it(august, researcher):
    placed = EntryFactory(title="已放入的政策", regions=[650000], published_on=AUGUST)
    IssueEntryFactory(issue=august, entry=placed, section="policies", position=0)
    EntryFactory(title="新到的北京政策", regions=[110000], published_on=AUGUST)
    issue_assemble(issue=august, by=researcher)
    assert numbered(august) == [("1.1", "已放入的政策"), ("1.2", "新到的北京政策")]


def test_regenerating_the_intro_follows_the_content(august, researcher):
    EntryFactory(title="国务院政策", level=Level.NATIONAL, issuer="国务院", published_on=AUGUST)
    issue_assemble(issue=august, by=researcher)
    august.intro = "编辑改写的导读"
    august.save()
    assert issue_regenerate_intro(issue=august, by=researcher).startswith(
        "《数字政府动态——政务服务分册》8月刊选取国家级重要政策1条"
    )


@pytest.mark.parametrize("status", [IssueStatus.APPROVED, IssueStatus.SCHEDULED, IssueStatus.PUBLISHED])
def test_an_approved_or_published_issue_cannot_be_reassembled(status, researcher):
    issue = IssueFactory(status=status)
    with pytest.raises(AssemblyError):
        issue_assemble(issue=issue, by=researcher)
    with pytest.raises(AssemblyError):
        issue_regenerate_intro(issue=issue, by=researcher)


def test_sales_cannot_assemble(august, sales):
    with pytest.raises(PermissionDenied):
        issue_assemble(issue=august, by=sales)
