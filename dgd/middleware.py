"""Request guards that answer bad input with a 4xx before any view, form or query sees it."""

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _

NUL = "\x00"


def _holds_nul(mapping):
    """Whether any key or value of a ``QueryDict``/``MultiValueDict`` (or a plain dict) holds a NUL."""
    lists = mapping.lists() if hasattr(mapping, "lists") else ((k, [v]) for k, v in mapping.items())
    for key, values in lists:
        if NUL in key:
            return True
        for value in values:
            text = value if isinstance(value, str) else getattr(value, "name", "") or ""
            if NUL in text:
                return True
    return False


class RejectNulMiddleware:
    """Answer 400 to a request whose path, query string, form fields, uploaded file names or cookies hold a
    NUL character (``%00``).

    PostgreSQL refuses NUL in text, so such a value reaching a query (an admin list filter or search, the
    admin's autocomplete, a saved filter's name) would fail the request with a 500. No legitimate input
    of this site holds one. Forms refuse NUL too (Django's ``CharField``); this catches every parameter
    that never passes through a form.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._holds_nul(request):
            return HttpResponse(
                _("The request contains a NUL character, which is not allowed."),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)

    @staticmethod
    def _holds_nul(request):
        if NUL in request.path or _holds_nul(request.GET) or _holds_nul(request.COOKIES):
            return True
        if request.method == "POST":
            # Parsing errors (a malformed multipart body, too many fields) raise here as they would in the
            # view, and Django answers them with 400.
            return _holds_nul(request.POST) or _holds_nul(request.FILES)
        return False


class RequestSizeLimitMiddleware:
    """Answer 413 to a request whose declared body is larger than ``DGD_MAX_REQUEST_SIZE`` bytes, before
    Django reads it (and streams an uploaded file to disk). ``DATA_UPLOAD_MAX_MEMORY_SIZE`` does not count
    uploaded files; the import forms check each file's size against ``DGD_IMPORT_MAX_FILE_SIZE`` as well."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = getattr(settings, "DGD_MAX_REQUEST_SIZE", None)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit and length > limit:
            return HttpResponse(
                _("The request is too large (more than %(size)s).") % {"size": _megabytes(limit)},
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class AdminBadLookupMiddleware:
    """Answer 400 when an admin list (or an export built from one) fails on its query string.

    The changelist passes every unknown parameter to the queryset as a lookup and redirects to ``?e=1`` on the
    errors it expects; others escape it as a 500: a date-hierarchy year of eleven digits (``OverflowError``
    while building the bounds), ``created_at__year=99999999999`` (raised only when the query is compiled), a
    date out of PostgreSQL's range. Only list and export pages of the admin, only for those errors.
    """

    ERRORS = (OverflowError, ValueError, TypeError)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.contrib.admin.options import IncorrectLookupParameters
        from django.core.exceptions import FieldError, ValidationError
        from django.db import DataError

        match = getattr(request, "resolver_match", None)
        if match is None or match.namespace != "admin" or not request.GET:
            return None
        if not (match.url_name or "").endswith(("_changelist", "_export")):
            return None
        if not isinstance(exception, (IncorrectLookupParameters, FieldError, ValidationError, DataError, *self.ERRORS)):
            return None
        return HttpResponse(
            _("The filters in the address are not valid for this list."),
            status=400,
            content_type="text/plain; charset=utf-8",
        )


def _megabytes(size):
    return f"{size / (1024 * 1024):.0f} MB"
