from itertools import groupby

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.syndication.views import Feed
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Stylesheet
from django.utils.xmlutils import SimplerXMLGenerator
from django.views.decorators.http import require_GET

from issues.models import Issue, IssueRevision
from issues.renditions import published_pdf, render_json, render_newsletter_text, render_pdf
from issues.search import MAX_QUERY, archive_search
from issues.selectors import issue_data, issue_for_display
from issues.templatetags.issue_text import richtext
from policies.safety import xml_text

RENDITIONS = {"text": ("text/plain; charset=utf-8", "txt"), "json": ("application/json; charset=utf-8", "json")}


def _archive_years():
    issues = Issue.objects.published().select_related("series").order_by("-year", "-month", "series__name")
    return [(year, list(group)) for year, group in groupby(issues, key=lambda issue: issue.year)]


def _published(year, month, series=None):
    issues = Issue.objects.published().select_related("series").filter(year=year, month=int(month))
    if series:
        issues = issues.filter(series__slug=series)
    issue = issues.order_by("series__name").first()
    if issue is None:
        raise Http404("No such published issue")
    return issue


@require_GET
def home(request):
    latest = Issue.objects.published().select_related("series").order_by("-year", "-month").first()
    context = {"latest": latest, "years": _archive_years()}
    if latest:
        context["latest_data"] = issue_data(latest)
    return render(request, "issues/home.html", context)


@require_GET
def archive(request):
    return render(request, "issues/archive.html", {"years": _archive_years()})


def _neighbours(issue):
    """The published issues of the same series just before and just after ``issue`` (None at either end)."""
    same_series = Issue.objects.published().filter(series_id=issue.series_id).select_related("series")
    earlier = Q(year__lt=issue.year) | Q(year=issue.year, month__lt=issue.month)
    later = Q(year__gt=issue.year) | Q(year=issue.year, month__gt=issue.month)
    return (
        same_series.filter(earlier).order_by("-year", "-month").first(),
        same_series.filter(later).order_by("year", "month").first(),
    )


@require_GET
def detail(request, year, month):
    issue = _published(year, month, request.GET.get("series"))
    revision = issue.latest_revision()
    previous_issue, next_issue = _neighbours(issue)
    return render(
        request,
        "issues/issue_detail.html",
        {
            "issue": issue_for_display(revision.data),
            "revision": revision,
            "pdf_url": reverse("issues:pdf", args=[year, month]),
            "previous_issue": previous_issue,
            "next_issue": next_issue,
            "subscribe_prompt": True,
        },
    )


@require_GET
def search(request):
    """The archive search (a GET form): published issues and their entries that hold every word asked for."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    results = archive_search(query) if query else []
    hits = sum(len(result["entries"]) + result["more"] for result in results)
    return render(request, "issues/search.html", {"query": query, "results": results, "hits": hits})


@require_GET
def privacy(request):
    """The privacy notice (China's PIPL): what subscribing collects, why, for how long, and how to leave."""
    context = {
        "notice_version": settings.PRIVACY_NOTICE_VERSION,
        "confirm_days": settings.SUBSCRIBERS_CONFIRM_MAX_AGE // 86400,
        "contact_address": settings.DGD_CONTACT_ADDRESS,
    }
    return render(request, "privacy.html", context)


@require_GET
def feed_page(request):
    """What the header's RSS link opens: a page for people, with the feed's address for their reader."""
    issues = Issue.objects.published().select_related("series").order_by("-published_at")[:12]
    feed_url = request.build_absolute_uri(reverse("issues:feed"))
    return render(request, "issues/feed_page.html", {"issues": issues, "feed_url": feed_url})


@require_GET
def feed_stylesheet(request):
    """The XSL stylesheet the Atom feed names, so a browser that still applies XSLT shows the feed as a page."""
    return render(request, "issues/feed.xsl", content_type="text/xsl; charset=utf-8")


@require_GET
def pdf(request, year, month):
    issue = _published(year, month, request.GET.get("series"))
    revision = issue.latest_revision()
    return _pdf_response(published_pdf(issue, revision), f"dgd-{issue.series.slug}-{issue.key}.pdf")


def _pdf_response(content, filename):
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@staff_member_required
def preview(request, pk, rendition="html"):
    """Staff preview every rendition of any issue, published or not; the public sees none of these."""
    if not request.user.has_perm("issues.view_issue"):
        raise PermissionDenied
    issue = get_object_or_404(Issue.objects.select_related("series"), pk=pk)
    data = issue_data(issue)  # published: the revision; approved: the frozen copy; else as it stands
    if rendition == "pdf":
        return _pdf_response(render_pdf(data), f"dgd-{issue.series.slug}-{issue.key}-preview.pdf")
    if rendition in RENDITIONS:
        content_type, _ = RENDITIONS[rendition]
        content = render_newsletter_text(data) if rendition == "text" else render_json(data)
        return HttpResponse(content, content_type=content_type)
    return render(
        request,
        "issues/issue_detail.html",
        {
            "issue": issue_for_display(data),
            "preview": not issue.is_published,
            "status_label": issue.get_status_display(),
            "pdf_url": reverse("issues:preview", args=[issue.pk, "pdf"]),
            "text_url": reverse("issues:preview", args=[issue.pk, "text"]),
            "json_url": reverse("issues:preview", args=[issue.pk, "json"]),
        },
    )


class SafeAtom1Feed(Atom1Feed):
    """Atom whose every string is first cleaned of what XML 1.0 cannot hold (a NUL or another control
    character in a title or an introduction would otherwise make the whole feed invalid)."""

    def __init__(self, *args, stylesheets=None, **kwargs):
        kwargs = {k: _xml_clean(v) for k, v in kwargs.items()}
        super().__init__(*(xml_text(v) for v in args), stylesheets=stylesheets, **kwargs)

    def add_item(self, *args, **kwargs):
        super().add_item(*(xml_text(v) for v in args), **{k: _xml_clean(v) for k, v in kwargs.items()})

    def write(self, outfile, encoding):
        """Atom1Feed.write with the stylesheet processing instructions Django writes for RSS only, so a browser
        shows the feed as a page (``feed_stylesheet``) while readers still get plain Atom."""
        handler = SimplerXMLGenerator(outfile, encoding, short_empty_elements=True)
        handler.startDocument()
        for stylesheet in self.feed["stylesheets"] or []:
            handler.processingInstruction("xml-stylesheet", str(stylesheet))
        handler.startElement("feed", self.root_attributes())
        self.add_root_elements(handler)
        self.write_items(handler)
        handler.endElement("feed")


def _xml_clean(value):
    if isinstance(value, (list, tuple)):
        return type(value)(xml_text(v) for v in value)
    return xml_text(value)


class IssueFeed(Feed):
    """The public Atom feed. Titles are ``type="text"`` (the XML writer escapes them once); the summary is
    ``type="html"``, so it carries HTML that is already safe — the introduction rendered by ``richtext``,
    which escapes all of it but its own paragraphs and bold — and the XML writer escapes that again."""

    title = "数字政府动态"
    link = "/issues/"
    description = "数字政府动态：每月一期的数字政府政策、创新实践与解读。"
    feed_type = SafeAtom1Feed
    subtitle = description

    def stylesheets(self):
        return [Stylesheet(reverse("issues:feed_stylesheet"), mimetype="text/xsl")]

    def items(self):
        """The 50 newest issues, each with its latest revision: two queries in all, not two per issue."""
        newest = IssueRevision.objects.filter(issue=OuterRef("pk")).order_by("-number").values("pk")[:1]
        issues = list(
            Issue.objects.published()
            .select_related("series")
            .annotate(latest_revision_pk=Subquery(newest))
            .order_by("-published_at")[:50]
        )
        revisions = IssueRevision.objects.in_bulk([issue.latest_revision_pk for issue in issues])
        for issue in issues:
            issue.feed_revision = revisions.get(issue.latest_revision_pk)
        return issues

    def item_title(self, issue):
        return str(issue)

    def item_description(self, issue):
        data = issue.feed_revision.data if issue.feed_revision else issue_data(issue)
        return str(richtext(data.get("intro", "")))

    def item_pubdate(self, issue):
        return issue.published_at

    def item_updateddate(self, issue):
        return issue.feed_revision.created_at if issue.feed_revision else issue.published_at
