"""Every rendition of an issue comes from the same data (``issues.selectors.issue_data``): the web page,
the PDF (WeasyPrint), the newsletter text and the JSON."""

import json
import re
from html import unescape

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.loader import render_to_string

from issues.newsletter.writer import render_text
from issues.selectors import issue_for_display
from policies.safety import is_safe_url

PDF_RENDERING = 2  # 2: links checked by policies.safety, nothing fetched


def render_html(data, *, request=None, template="issues/issue_detail.html", **context):
    return render_to_string(
        template, {"issue": issue_for_display(data), "publisher": settings.DGD_PUBLISHER, **context}, request=request
    )


def render_pdf(data):
    return html_to_pdf(render_html(data, template="issues/issue_print.html"))


def html_to_pdf(html):
    """WeasyPrint, fetching nothing: the print template is self-contained (inline CSS, system fonts), so no
    ``src``, ``url()`` or link in the content can read a file or reach the network; and a relative link
    resolves against the site (``SITE_URL``), never against the install directory as a file:// URL."""
    from weasyprint import HTML  # imported late: it loads Pango and fontconfig
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=(), allow_redirects=False)  # every scheme refused: file:, http:, data:
    html = HREF.sub(_pdf_href, html)
    return HTML(string=html, base_url=settings.SITE_URL.rstrip("/") + "/", url_fetcher=fetcher).write_pdf()


HREF = re.compile(r'(\bhref\s*=\s*)"([^"]*)"', re.IGNORECASE)


def _pdf_href(match):
    """A link in the PDF is a fragment of the document or a safe http(s) link; any other loses its ``href``,
    whatever a template let through."""
    url = unescape(match.group(2))
    if url.startswith("#") or is_safe_url(url):
        return match.group(0)
    return ""


def render_newsletter_text(data):
    from issues.services import newsletter_region_tags  # (services imports this module's neighbours)

    return render_text(data, newsletter_region_tags())


def render_json(data):
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def published_pdf(issue, revision):
    """The PDF of a published revision, rendered once and kept in storage (revisions never change). The name
    carries ``PDF_RENDERING``, so a PDF kept from before a change of the renderer (such as the link rules) is
    rendered again rather than served."""
    name = f"issues/{issue.series.slug}-{issue.key}-r{revision.number}-p{PDF_RENDERING}.pdf"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(render_pdf(revision.data)))
    with default_storage.open(name, "rb") as f:
        return f.read()
