"""Output safety rules every writer and renderer shares, so that a new exporter or template cannot forget them.

* ``validate_http_url`` / ``is_safe_url`` / ``safe_url``: the one rule for a link the catalogue stores and
  renders — an absolute ``http`` or ``https`` URL with a host, and nothing a browser or a PDF renderer could
  read otherwise (no ``javascript:``, ``data:``, ``file:``, relative or protocol-relative values, no
  credentials before the host, no whitespace, control characters, quotes, angle brackets or backslashes).
  It is the validator of ``Entry.source_url`` (admin forms, spreadsheet import) and is called by the
  newsletter parser; templates pass every stored link through ``safe_url`` (the ``safe_url`` filter of
  ``safe_links``) and the PDF renderer drops any other ``href``, so a row stored before the rule renders
  without its link.
* ``xml_text``: a string without what XML 1.0 cannot hold (the feed, .xlsx cells).
* ``spreadsheet_cell`` / ``spreadsheet_row``: a text cell that a spreadsheet application would read as a
  formula (``=``, ``+``, ``-``, ``@``, tab, CR, LF, their full-width forms, or any of them after leading
  blanks) is prefixed with a single quote, as OWASP's CSV-injection guidance recommends; every .csv and
  .xlsx export writes its cells through it.
"""

import csv
import re
import unicodedata
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

SAFE_URL_SCHEMES = ("http", "https")

# Characters a well-formed URL never holds unencoded (RFC 3986) and that break out of an attribute or a
# Markdown link, or that browsers rewrite (backslash): refused rather than escaped.
_UNSAFE_URL_CHARACTERS = re.compile(r"[\s\"'<>\\`{}|^\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_django_url_validator = URLValidator(schemes=SAFE_URL_SCHEMES)


def is_safe_url(value):
    """Whether ``value`` is an absolute http(s) URL with a host and nothing that could be read otherwise."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return False
    if _UNSAFE_URL_CHARACTERS.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if parts.scheme.lower() not in SAFE_URL_SCHEMES or not parts.hostname:
        return False
    if "@" in parts.netloc:  # credentials, or a host disguised as one: https://www.gov.cn@evil.example/
        return False
    if not value.lower().startswith(f"{parts.scheme.lower()}://"):
        return False
    try:
        _django_url_validator(value)
    except ValidationError:
        return False
    return True


def validate_http_url(value):
    """The validator of every stored link (``HttpURLField``); an empty value is left to ``blank``."""
    if value and not is_safe_url(value):
        raise ValidationError(
            _("Enter an absolute http:// or https:// link."), code="unsafe_url", params={"value": value}
        )


class HttpURLField(models.URLField):
    """A URLField whose only rule is ``validate_http_url`` (Django's own also lets ftp:// through)."""

    default_validators = [validate_http_url]

    def formfield(self, **kwargs):
        # A form completes a value typed without a scheme (www.gov.cn/…) to https://, as Django 6 will.
        return super().formfield(**{"assume_scheme": "https", **kwargs})


def safe_url(value):
    """``value`` if it is a safe link, else the empty string: what renderers put in an ``href``."""
    return value if is_safe_url(value) else ""


# --- spreadsheet cells ----------------------------------------------------------------------------------

# Characters that start a formula (or a DDE payload) in Excel, LibreOffice or Google Sheets, with the
# full-width forms a spreadsheet may read the same way; any of them after leading blanks too.
FORMULA_PREFIXES = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
_LEADING_BLANKS = " \u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u3000\ufeff"
# What XML 1.0 (and so .xlsx, and a feed) cannot hold: C0 controls but tab, CR and LF; lone surrogates;
# U+FFFE and U+FFFF.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value):
    """``value`` without the characters XML 1.0 cannot hold (a NUL would make a feed or an .xlsx invalid)."""
    return XML_ILLEGAL.sub("", value) if isinstance(value, str) else value


def looks_like_formula(text):
    """Whether a spreadsheet would read ``text`` as a formula (what an import may want to refuse, too)."""
    stripped = text.lstrip(_LEADING_BLANKS)
    if not stripped:
        return False
    first = stripped[0]
    # NFKC also maps the small forms (﹦ ﹢ ﹣ ﹫) to the ASCII characters.
    return first in FORMULA_PREFIXES or unicodedata.normalize("NFKC", first) in FORMULA_PREFIXES


def spreadsheet_cell(value):
    """A cell value safe to write to .csv or .xlsx. Text that a spreadsheet would evaluate is prefixed with
    ``'`` (OWASP), so it stays readable and openpyxl stores it as a string, never as a formula; characters an
    .xlsx cannot hold are dropped. Numbers, dates and ``None`` pass unchanged. Idempotent."""
    if not isinstance(value, str):
        return value
    value = xml_text(value)
    if looks_like_formula(value):
        return "'" + value
    return value


def spreadsheet_row(values):
    return [spreadsheet_cell(value) for value in values]


def spreadsheet_text(value):
    """The inverse on import: a cell ``spreadsheet_cell`` prefixed reads back as it was."""
    if isinstance(value, str) and value.startswith("'") and looks_like_formula(value[1:]):
        return value[1:]
    return value


class SpreadsheetWriter:
    """``csv.writer`` whose rows go through ``spreadsheet_row``: the CSV writer of every export."""

    def __init__(self, target, **kwargs):
        self._writer = csv.writer(target, **kwargs)

    def writerow(self, row):
        return self._writer.writerow(spreadsheet_row(row))

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


class SpreadsheetSafeResourceMixin:
    """For a django-import-export resource: every exported cell goes through ``spreadsheet_cell`` (CSV and
    XLSX alike; the package's own IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only drops a leading ``=`` and
    so both alters the text and misses ``+ - @``), and an imported file's prefixed cells read back as they were."""

    def export_field(self, field, instance, **kwargs):
        return spreadsheet_cell(super().export_field(field, instance, **kwargs))

    def get_export_headers(self, *args, **kwargs):
        return spreadsheet_row(super().get_export_headers(*args, **kwargs))

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        if dataset.height:
            headers = dataset.headers
            rows = [[spreadsheet_text(cell) for cell in row] for row in dataset]
            dataset.wipe()
            dataset.headers = headers
            for row in rows:
                dataset.append(row)
