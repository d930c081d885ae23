"""Reads of issues: their sections, numbering, counts and the JSON shape other tools rely on."""

import re
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist

from issues.models import SECTION_ORDER, Issue, IssueEntry
from issues.newsletter.format import SECTION_TITLES, chinese_numeral
from policies.models import Entry, Kind, Level


@dataclass
class NumberedItem:
    number: str
    item: IssueEntry

    @property
    def entry(self):
        return self.item.entry


@dataclass
class SectionView:
    key: str
    ordinal: int
    items: list = field(default_factory=list)

    @property
    def title(self):
        return f"{chinese_numeral(self.ordinal)}、{SECTION_TITLES[self.key]}"


def issue_items(issue):
    return list(
        IssueEntry.objects.filter(issue=issue)
        .select_related("entry", "entry__interprets")
        .prefetch_related("entry__regions", "entry__themes", "entry__partners")
        .order_by("position", "id")
    )


def issue_sections(issue, items=None):
    """The issue's non-empty sections in their fixed order, numbered 一、二、… and entries 1.1, 1.2, …"""
    items = issue_items(issue) if items is None else items
    by_section = {key: [item for item in items if item.section == key] for key in SECTION_ORDER}
    sections = []
    for key in SECTION_ORDER:
        if by_section[key]:
            ordinal = len(sections) + 1
            section = SectionView(key=key, ordinal=ordinal)
            section.items = [
                NumberedItem(number=f"{ordinal}.{i}", item=item) for i, item in enumerate(by_section[key], 1)
            ]
            sections.append(section)
    return sections


def issue_stats(items):
    """Counts computed from the content, as the introduction quotes them."""
    entries = [item.entry for item in items]
    policy_levels = Counter(entry.level for entry in entries if entry.kind == Kind.POLICY)
    return {
        "policies": sum(policy_levels.values()),
        "national": policy_levels[Level.NATIONAL],
        "ministry": policy_levels[Level.MINISTRY],
        "provincial": policy_levels[Level.PROVINCIAL],
        "practices": sum(1 for entry in entries if entry.kind == Kind.PRACTICE),
    }


def entry_as_data(entry, number, numbers_by_entry_id):
    data = {
        "number": number,
        "kind": entry.kind,
        "title": entry.title,
        "issuer": entry.issuer,
        "level": entry.level or None,
        "regions": [str(region.code) for region in sorted(entry.regions.all(), key=lambda r: r.code)],
        "partners": sorted(partner.name for partner in entry.partners.all()),
        "themes": [theme.slug for theme in sorted(entry.themes.all(), key=lambda t: (t.position, t.pk))],
        "source_url": entry.source_url or None,
        "summary": entry.summary,
        "doc_number": entry.doc_number or None,
        "action": entry.action or None,
    }
    if entry.kind == Kind.ANALYSIS:
        data["interprets"] = numbers_by_entry_id.get(entry.interprets_id)
        data["body"] = entry.body
    return data


def issue_as_data(issue):
    """The issue in the JSON shape of docs/issue-json.md (what export_issue writes and revisions store)."""
    items = issue_items(issue)
    sections = issue_sections(issue, items)
    numbers = {numbered.item.entry_id: numbered.number for s in sections for numbered in s.items}
    return {
        "series": issue.series.name,
        "publication": issue.series.publication,
        "publisher": issue.series.publisher,
        "year": issue.year,
        "month": issue.month,
        "number": issue.number,
        "intro": issue.intro,
        "status": issue.status,
        "stats": issue_stats(items),
        "sections": [
            {
                "key": section.key,
                "title": section.title,
                "entries": [entry_as_data(n.entry, n.number, numbers) for n in section.items],
            }
            for section in sections
        ],
    }


def issue_data(issue):
    """What readers get: a published issue as frozen in its latest revision, an approved or scheduled one as
    the chief editor approved it (what publishing will publish), any other as it stands."""
    if issue.is_published:
        revision = issue.latest_revision()
        if revision is not None:
            return revision.data
    if issue.approved_data:
        return {**issue.approved_data, "status": issue.status}
    return issue_as_data(issue)


class IssueNotFound(LookupError):
    pass


def issue_by_reference(reference):
    """An issue by its id or its month (``2022-08``); refuses an ambiguous month."""
    reference = str(reference).strip()
    if reference.isdigit():
        try:
            return Issue.objects.select_related("series").get(pk=int(reference))
        except ObjectDoesNotExist:
            raise IssueNotFound(f"no issue with id {reference}") from None
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", reference)
    if not match:
        raise IssueNotFound(f"«{reference}» is neither an issue id nor a month like 2022-08")
    issues = list(Issue.objects.for_month(int(match.group(1)), int(match.group(2))).select_related("series"))
    if not issues:
        raise IssueNotFound(f"no issue for {reference}")
    if len(issues) > 1:
        ids = ", ".join(f"{issue.pk} ({issue.series})" for issue in issues)
        raise IssueNotFound(f"several issues for {reference}: use the id, one of {ids}")
    return issues[0]


def _anchor(number):
    return "entry-" + number.replace(".", "-")


def issue_for_display(data):
    """The issue data with what pages need beside it: tags 【四川&重庆】, anchors, the month as 08."""
    from policies.models import Region

    names = dict(Region.objects.values_list("code", "short_name"))
    sections = []
    for section in data["sections"]:
        entries = []
        for entry in section["entries"]:
            tag_names = [names.get(int(code), code) for code in entry["regions"]] + list(entry["partners"])
            extra = {"tag": "&".join(tag_names), "anchor": _anchor(entry["number"])}
            if entry.get("interprets"):
                extra["interprets_anchor"] = _anchor(entry["interprets"])
            entries.append({**entry, **extra})
        sections.append({**section, "entries": entries, "anchor": f"section-{section['key']}"})
    return {
        **data,
        "sections": sections,
        "month_padded": f"{data['month']:02d}",
        "number_padded": f"{data['number']:02d}",
    }


def issue_shared_entries(issue):
    """The issue's entries that another issue holds too: an entry appears in one issue only (assembly takes
    the month's entries that are in no other issue; the inline form and the workflow refuse the rest)."""
    return list(
        Entry.objects.filter(issue_items__issue=issue)
        .filter(issue_items__in=IssueEntry.objects.exclude(issue=issue))
        .distinct()
        .order_by("pk")
    )
