from itertools import groupby

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.syndication.views import Feed
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.http import require_GET

from issues.models import Issue
from issues.renditions import published_pdf, render_json, render_newsletter_text, render_pdf
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


@require_GET
def detail(request, year, month):
    issue = _published(year, month, request.GET.get("series"))
    revision = issue.latest_revision()
    return render(
        request,
        "issues/issue_detail.html",
        {
            "issue": issue_for_display(revision.data),
            "revision": revision,
            "pdf_url": reverse("issues:pdf", args=[year, month]),
        },
    )


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

    def __init__(self, *args, **kwargs):
        super().__init__(*(xml_text(v) for v in args), **{k: _xml_clean(v) for k, v in kwargs.items()})

    def add_item(self, *args, **kwargs):
        super().add_item(*(xml_text(v) for v in args), **{k: _xml_clean(v) for k, v in kwargs.items()})


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

    def items(self):
        return Issue.objects.published().select_related("series").order_by("-published_at")[:50]

    def item_title(self, issue):
        return str(issue)

    def item_description(self, issue):
        return str(richtext(issue_data(issue).get("intro", "")))

    def item_pubdate(self, issue):
        return issue.published_at

    def item_updateddate(self, issue):
        revision = issue.latest_revision()
        return revision.created_at if revision else issue.published_at
