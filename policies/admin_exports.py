"""The admin side of spreadsheet exports: django-import-export builds the export's queryset from a changelist
fed with the request's query string, so a parameter the changelist would refuse (it redirects to ``?e=1``) —
an unknown name, ``?format=csv``, a date-hierarchy year of eleven digits — would fail the export with a 500.
Here it is a 400 that says so in Chinese, and the export's own parameters never reach the queryset."""

import contextlib
import copy

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import EmptyResultSet, FieldError, FullResultSet, ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _

# Parameters of the export page itself (its form, a link from an action), never queryset filters.
EXPORT_PARAMS = ("format", "resource", "export_items", "_changelist_filters", "export_format")

# What a bad lookup parameter raises, when the changelist is built or when its query is compiled.
LOOKUP_ERRORS = (IncorrectLookupParameters, FieldError, ValidationError, ValueError, OverflowError, TypeError)


class BadExportFilter(Exception):
    pass


def queryset_check(queryset):
    """Compile ``queryset``'s SQL, so a lookup that fails only then (``created_at__year=99999999999``) fails
    here rather than while the file is written."""
    with contextlib.suppress(EmptyResultSet, FullResultSet):
        queryset.query.sql_with_params()


class SafeExportAdminMixin:
    """For an ``ImportExportModelAdmin`` (before it in the bases): a query string the changelist would not
    accept is a 400 with a Chinese message, never a 500 and never a silently wider export."""

    def get_export_queryset(self, request):
        filtered = copy.copy(request)
        filtered.GET = request.GET.copy()
        for name in EXPORT_PARAMS:
            filtered.GET.pop(name, None)
        try:
            queryset = super().get_export_queryset(filtered)
            queryset_check(queryset)
        except LOOKUP_ERRORS as error:
            raise BadExportFilter(_export_message(error)) from error
        return queryset

    def export_action(self, request):
        try:
            return super().export_action(request)
        except BadExportFilter as refused:
            return HttpResponse(str(refused), status=400, content_type="text/plain; charset=utf-8")


def _export_message(error):
    detail = error.__cause__ if isinstance(error, IncorrectLookupParameters) and error.__cause__ else error
    if isinstance(detail, FieldError | IncorrectLookupParameters):
        return _("Unknown filter in the address; export from the list page instead.")
    return _("Invalid filter in the address; export from the list page instead.")
