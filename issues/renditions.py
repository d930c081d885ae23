"""Every rendition of an issue comes from the same data (``issues.selectors.issue_data``): the web page,
the PDF (WeasyPrint), the newsletter text and the JSON."""

import json

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.loader import render_to_string

from issues.newsletter.writer import render_text
from issues.selectors import issue_for_display
from policies.models import Region


def render_html(data, *, request=None, template="issues/issue_detail.html", **context):
    return render_to_string(
        template, {"issue": issue_for_display(data), "publisher": settings.DGD_PUBLISHER, **context}, request=request
    )


def render_pdf(data):
    from weasyprint import HTML  # imported late: it loads Pango and fontconfig

    html = render_html(data, template="issues/issue_print.html")
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def render_newsletter_text(data):
    names = {str(code): short for code, short in Region.objects.values_list("code", "short_name")}
    return render_text(data, names)


def render_json(data):
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def published_pdf(issue, revision):
    """The PDF of a published revision, rendered once and kept in storage (revisions never change)."""
    name = f"issues/{issue.series.slug}-{issue.key}-r{revision.number}.pdf"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(render_pdf(revision.data)))
    with default_storage.open(name, "rb") as f:
        return f.read()
