"""Writes to issues: importing a newsletter file, drafting the introduction."""

import datetime
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from issues.models import EDITABLE_STATUSES, SECTION_ORDER, Issue, IssueEntry, IssueStatus, Section, Series
from issues.newsletter.parser import NewsletterError, Vocabulary, parse
from issues.selectors import issue_as_data, issue_items, issue_sections, issue_stats
from issues.workflow import revision_create
from policies.gazetteer import Gazetteer
from policies.indexing import entries_reindex
from policies.models import Entry, Kind, Level, Partner, Region, RegionKind, Status, Theme

SCALAR_FIELDS = ("kind", "title", "issuer", "action", "doc_number", "level", "source_url", "summary", "body")


@dataclass
class ImportResult:
    issue: Issue
    issue_created: bool
    entries_created: int
    entries_updated: int
    entries_unchanged: int
    # entry label (3.3) → (entry, regions its title and summary name beyond its tags): shown, never applied; the
    # researcher accepts them on the entry's admin page (建议地区)
    region_suggestions: dict = field(default_factory=dict)


def newsletter_vocabulary():
    """Region names for the parser. In tags (【江苏】, 【靖江】): every name, short name and alias that names one
    region only, a province's own names winning over a district's (河北 the province, not 天津's 河北区). In
    running text: the provinces' and prefecture-level cities' names only."""
    owners = {}
    rows = Region.objects.values_list("code", "name", "short_name", "kind", "aliases")
    for code, name, short_name, kind, aliases in rows:
        for term in {name, short_name, *(alias for alias in aliases.split("|") if alias)}:
            owners.setdefault(term, []).append((code, kind))
    regions, text_regions = {}, {}
    for term, named in owners.items():
        provinces = [code for code, kind in named if kind == RegionKind.PROVINCE]
        codes = provinces or [code for code, _kind in named]
        if len(codes) == 1:
            regions[term] = codes[0]
            if provinces or {kind for _code, kind in named} == {RegionKind.CITY}:
                text_regions[term] = codes[0]
        regions.update({str(code): code for code, _kind in named})  # a tag may give the code: 【320106】
    partners = set(Partner.objects.values_list("name", flat=True))
    return Vocabulary(regions=regions, partners=partners, text_regions=text_regions)


def newsletter_region_tags():
    """Code (as in the issue JSON) → the name a tag gives it so that the text imports back to the same region:
    the short name (靖江), else the full name, else the code itself where every name is shared (鼓楼区)."""
    vocabulary = newsletter_vocabulary()
    tags = {}
    for code, name, short_name in Region.objects.values_list("code", "name", "short_name"):
        tag = next((t for t in (short_name, name) if vocabulary.region_named(t) == code), str(code))
        tags[str(code)] = tag
    return tags


def issue_import_newsletter(*, data, source_name="", draft=False):
    """Import a newsletter file into an issue and its catalogue entries.

    Idempotent: importing the same file again changes nothing. Malformed input raises
    ``NewsletterError`` (``line N: reason``) before anything is written. A new issue is archived as
    published without notifying anyone, or kept as a draft (its entries too) with ``draft=True``.
    """
    parsed = parse(data, newsletter_vocabulary())
    with transaction.atomic():
        result = _store(parsed, source_name=source_name, draft=draft)
        entries_reindex(entry_ids=list(result.issue.items.values_list("entry_id", flat=True)))
        return result


def _store(parsed, *, source_name, draft):
    series = Series.objects.filter(name=parsed.series).first()
    if series is None:
        series = Series.objects.create(
            name=parsed.series, slug=slugify(parsed.series) or f"series-{Series.objects.count() + 1}"
        )
    issue = Issue.objects.select_for_update().filter(series=series, year=parsed.year, month=parsed.month).first()
    clash = Issue.objects.filter(series=series, number=parsed.number).exclude(pk=getattr(issue, "pk", None)).first()
    if clash:
        raise NewsletterError(1, f"issue number {parsed.number} of {series} already belongs to {clash.key}")

    issue_created = issue is None
    if issue_created:
        published = not draft
        issue = Issue.objects.create(
            series=series,
            year=parsed.year,
            month=parsed.month,
            number=parsed.number,
            intro=parsed.intro,
            status=IssueStatus.PUBLISHED if published else IssueStatus.DRAFT,
            published_at=_month_start(parsed) if published else None,
            source_name=source_name,
        )
    elif (issue.number, issue.intro) != (parsed.number, parsed.intro):
        issue.number, issue.intro = parsed.number, parsed.intro
        issue.save(update_fields=["number", "intro", "updated_at"])

    existing = {n.number: n.entry for s in issue_sections(issue) for n in s.items}
    regions = Region.objects.in_bulk()
    partners = {p.name: p for p in Partner.objects.all()}
    themes = list(Theme.objects.all())
    entry_status = Status.DRAFT if (draft and issue_created) else Status.READY
    counts = Counter()
    stored = {}
    for parsed_entry in parsed.entries:
        entry = existing.get(parsed_entry.label)
        if entry is not None and entry.kind != parsed_entry.kind:
            entry = None
        entry, outcome = _store_entry(
            parsed_entry,
            entry,
            published_on=datetime.date(parsed.year, parsed.month, 1),
            status=entry_status,
            regions=[regions[code] for code in parsed_entry.regions],
            partners=[partners[name] for name in parsed_entry.partners],
            themes=themes,
            reason=f"import_newsletter {source_name}".strip(),
        )
        counts[outcome] += 1
        stored[parsed_entry.number] = entry

    for parsed_entry in parsed.entries:
        if parsed_entry.interprets:
            entry = stored[parsed_entry.number]
            policy = stored[parsed_entry.interprets]
            if entry.interprets_id != policy.pk:
                entry.interprets = policy
                entry.save(update_fields=["interprets", "updated_at"])

    _store_items(issue, [(p.section, stored[p.number]) for p in parsed.entries])
    suggestions = _region_suggestions(parsed, stored, regions)
    if issue.is_published:
        latest = issue.latest_revision()
        if latest is None or latest.data != issue_as_data(issue):
            revision_create(issue=issue, by=None, reason=f"import_newsletter {source_name}".strip())
    return ImportResult(issue, issue_created, counts["created"], counts["updated"], counts["unchanged"], suggestions)


def _region_suggestions(parsed, stored, regions):
    """The most specific regions each entry's title and summary name (policies.gazetteer, the entry's tags as
    context) where they differ from its tags: 3.3 【江苏】靖江… → 靖江市."""
    gazetteer = Gazetteer.load()
    suggestions = {}
    for parsed_entry in parsed.entries:
        tags = list(parsed_entry.regions)
        codes = gazetteer.suggest_codes(f"{parsed_entry.title}\n{parsed_entry.summary}", tags)
        extra = [regions[code] for code in codes if code not in tags and code in regions]
        if extra:
            suggestions[parsed_entry.label] = (stored[parsed_entry.number], extra)
    return suggestions


def _month_start(parsed):
    return timezone.make_aware(datetime.datetime(parsed.year, parsed.month, 1, 9, 0))


def _store_entry(parsed_entry, entry, *, published_on, status, regions, partners, themes, reason):
    values = {name: getattr(parsed_entry, name) or "" for name in SCALAR_FIELDS}
    suggestion_text = "\n".join([parsed_entry.title, parsed_entry.issuer, parsed_entry.summary])
    suggested = [theme for theme in themes if theme.matches(suggestion_text)]
    if entry is None:
        entry = Entry.objects.filter(
            kind=parsed_entry.kind, title=parsed_entry.title, issuer=parsed_entry.issuer, issues=None
        ).first()
    if entry is None:
        entry = Entry(published_on=published_on, status=status, **values)
        entry._change_reason = reason
        entry.save()
        entry.regions.set(regions)
        entry.partners.set(partners)
        entry.themes.set(suggested)
        return entry, "created"

    changed = [name for name, value in values.items() if getattr(entry, name) != value]
    for name in changed:
        setattr(entry, name, values[name])
    if changed:
        entry._change_reason = reason
        entry.save()
    m2m_changed = False
    for manager, wanted in ((entry.regions, regions), (entry.partners, partners)):
        if {obj.pk for obj in manager.all()} != {obj.pk for obj in wanted}:
            manager.set(wanted)
            m2m_changed = True
    # Themes are staff's to confirm: a re-import adds newly suggested ones and removes none.
    missing_themes = [theme for theme in suggested if theme.pk not in {t.pk for t in entry.themes.all()}]
    if missing_themes:
        entry.themes.add(*missing_themes)
        m2m_changed = True
    return entry, "updated" if (changed or m2m_changed) else "unchanged"


def _store_items(issue, wanted):
    """Make the issue hold exactly ``wanted`` ([(section, entry)], in order), touching only what differs."""
    current = {item.entry_id: item for item in IssueEntry.objects.filter(issue=issue)}
    keep = {entry.pk for _, entry in wanted}
    IssueEntry.objects.filter(issue=issue).exclude(entry_id__in=keep).delete()
    for position, (section, entry) in enumerate(wanted):
        item = current.get(entry.pk)
        if item is None:
            IssueEntry.objects.create(issue=issue, entry=entry, section=section, position=position)
        elif (item.section, item.position) != (section, position):
            item.section, item.position = section, position
            item.save(update_fields=["section", "position"])


# --- Assembly ------------------------------------------------------------------------------------


class AssemblyError(Exception):
    """The issue cannot be changed now; the message is for the user."""


def _editable(issue, by):
    if not by.has_perm("issues.change_issue"):
        raise PermissionDenied(_("You may not edit issues."))
    if issue.status not in EDITABLE_STATUSES:
        raise AssemblyError(
            _("Only a draft can be changed; this issue is %(status)s. A chief editor can send it back to draft.")
            % {"status": issue.get_status_display()}
        )


def section_for(entry):
    if entry.kind == Kind.POLICY:
        return Section.HEADLINES if entry.level in (Level.NATIONAL, Level.MINISTRY) else Section.POLICIES
    return {Kind.PRACTICE: Section.PRACTICES, Kind.ANALYSIS: Section.ANALYSIS, Kind.BRIEFING: Section.OUTLOOK}[
        entry.kind
    ]


LEVEL_ORDER = {level: i for i, level in enumerate(Level.values)}


def _assembly_order(entry):
    """National before ministry, then provinces in code order, then oldest first."""
    province = min((region.province_code for region in entry.regions.all()), default=0)
    return (LEVEL_ORDER.get(entry.level, len(LEVEL_ORDER)), province, entry.published_on, entry.pk)


def issue_assemble(*, issue, by):
    """Pull the month's ready entries that are in no issue into their sections, after what is there.

    Returns the number of entries added.
    """
    _editable(issue, by)
    first = datetime.date(issue.year, issue.month, 1)
    following = datetime.date(issue.year + issue.month // 12, issue.month % 12 + 1, 1)
    candidates = list(
        Entry.objects.ready()
        .filter(published_on__gte=first, published_on__lt=following, issue_items__isnull=True)
        .prefetch_related("regions")
    )
    with transaction.atomic():
        items = issue_items(issue)
        by_section = {key: [item.entry for item in items if item.section == key] for key in SECTION_ORDER}
        for entry in sorted(candidates, key=_assembly_order):
            by_section[section_for(entry)].append(entry)
        _store_items(issue, [(key, entry) for key in SECTION_ORDER for entry in by_section[key]])
        if not issue.intro.strip():
            issue.intro = issue_draft_intro(issue=issue)
            issue.save(update_fields=["intro", "updated_at"])
    return len(candidates)


def issue_regenerate_intro(*, issue, by):
    _editable(issue, by)
    issue.intro = issue_draft_intro(issue=issue)
    issue.save(update_fields=["intro", "updated_at"])
    return issue.intro


def intro_is_hand_written(issue):
    """Whether 本期导读 holds text a person wrote (not empty, not what drafting it now would give): drafting it
    again would overwrite that, so the admin asks first."""
    return bool(issue.intro.strip()) and issue.intro.strip() != issue_draft_intro(issue=issue).strip()


def issue_next_numbering(series):
    """The year, month and number a new issue of ``series`` most likely has: the month after its latest issue
    and the next number (or this month and number 1 for a series' first issue)."""
    latest = Issue.objects.filter(series=series).order_by("-year", "-month").first()
    if latest is None:
        today = timezone.localdate()
        return {"year": today.year, "month": today.month, "number": 1}
    year, month = (latest.year + 1, 1) if latest.month == 12 else (latest.year, latest.month + 1)
    top = Issue.objects.filter(series=series).order_by("-number").values_list("number", flat=True).first()
    return {"year": year, "month": month, "number": top + 1}


def issue_renumber(*, issue):
    """Positions 0, 1, 2 … in section order, keeping the order within each section (after drag and drop)."""
    items = issue_items(issue)
    _store_items(issue, [(key, item.entry) for key in SECTION_ORDER for item in items if item.section == key])


# --- The introduction -------------------------------------------------------------------------

LEVEL_WORDS = [
    (Level.NATIONAL, "国家级", "国家级重磅政策"),
    (Level.MINISTRY, "部委", "部委"),
    (Level.PROVINCIAL, "省级", "省级政策"),
    (Level.MUNICIPAL, "市级", "市级政策"),
    (Level.COUNTY, "县级", "县级政策"),
]


def _top(counter, limit):
    return [name for name, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0][0]))[:limit]]


def _quoted_full_title(policy):
    """《浙江省人民政府关于深化数字政府建设的实施意见》: the issuer joins the title when it is one body."""
    single_issuer = policy.issuer and not any(mark in policy.issuer for mark in " 、，等")
    if single_issuer and not policy.title.startswith(policy.issuer):
        return f"《{policy.issuer}{policy.title}》"
    return f"《{policy.title}》"


def _policy_sentence(name, policies, count):
    """…选取国家级、省级重要政策3条，其中国家级重磅政策1条，省级政策2条，主要聚焦于…: the breakdown only
    when there is more than one level (「省级重要政策1条，其中省级政策1条」 says the same thing twice)."""
    levels = Counter(e.level for e in policies)
    present = [(level, words, detail) for level, words, detail in LEVEL_WORDS if levels[level]]
    if present:
        sentence = f"{name}选取{'、'.join(words for _, words, _ in present)}重要政策{count}条"
    else:
        sentence = f"{name}选取重要政策{count}条"
    if len(present) > 1:
        sentence += "，其中" + "，".join(f"{detail}{levels[level]}条" for level, _, detail in present)
    themes = Counter((t.position, t.name) for e in policies for t in e.themes.all())
    if themes:
        names = [name for _, name in _top(themes, 4)]
        sentence += f"，主要聚焦于{names[0]}" if len(names) == 1 else f"，主要聚焦于{'、'.join(names)}等方面"
    return sentence


def _practice_sentence(practices, count):
    """选取江苏、浙江等地在数字政府领域的先进做法…: 等地 for several places, the one place alone otherwise."""
    provinces = Counter((region.province_code, region.short_name) for e in practices for region in e.regions.all())
    themes = Counter((t.position, t.name) for e in practices for t in e.themes.all())
    sentence = ""
    if provinces:
        places = "、".join(name for _, name in _top(provinces, 4)) + ("等地" if len(provinces) > 1 else "")
        sentence = f"选取{places}在数字政府领域的先进做法和地方经验，"
    sentence += f"集成为{count}条创新实践"
    if themes:
        names = [name for _, name in _top(themes, 3)]
        sentence += f"，主要集中在{names[0]}领域" if len(names) == 1 else f"，主要集中在{'、'.join(names)}等领域"
    return sentence


def issue_draft_intro(*, issue):
    """Draft 本期导读 from the issue's content, in the style of the institute's own introductions."""
    items = issue_items(issue)
    stats = issue_stats(items)
    entries = [item.entry for item in items]
    policies = [e for e in entries if e.kind == Kind.POLICY]
    practices = [e for e in entries if e.kind == Kind.PRACTICE]
    analyses = [e for e in entries if e.kind == Kind.ANALYSIS]
    briefings = [e for e in entries if e.kind == Kind.BRIEFING]
    name = f"《{issue.series.publication}——{issue.series.name}》{issue.month}月刊"
    sentences = []
    if policies:
        sentences.append(_policy_sentence(name, policies, stats["policies"]))
    if practices:
        sentence = _practice_sentence(practices, stats["practices"])
        sentences.append(("同时，" if sentences else name) + sentence)
    text = "；".join(sentences) + ("。" if sentences else "")
    if analyses:
        subjects = "、".join(_quoted_full_title(a.interprets) if a.interprets else f"《{a.title}》" for a in analyses)
        text += f"{'此外，' if text else name}本期特别收录{issue.series.publisher}对{subjects}的原创解读，敬请关注。"
    if briefings:
        more = "等" if len(briefings) > 2 else ""
        text += f"热点前瞻关注{'、'.join(b.title for b in briefings[:2])}{more}。"
    return text
