"""Writes of the sales library: saved filters."""

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from library.models import SavedFilter

# The parameters a saved filter keeps (not the page or the cursor).
FILTER_PARAMETERS = ("region", "theme", "level", "kind", "date_from", "date_to", "issuer", "issue", "q", "sort")


def filter_query(params, **replacing):
    """The filter part of a request's parameters, as a stable query string; ``replacing`` sets parameters to
    other values (``region=[320000]``: that province instead of the chosen ones)."""
    pairs = [
        (name, value)
        for name in FILTER_PARAMETERS
        for value in (replacing[name] if name in replacing else params.getlist(name))
        if str(value).strip()  # a blank value (a keyword of spaces) is no filter, as the FilterSet reads it
    ]
    return urlencode(pairs)


def saved_filter_create(*, user, name, params):
    name = name.strip()
    if not name:
        raise ValidationError(_("Give the filter a name."))
    try:
        with transaction.atomic():
            return SavedFilter.objects.create(user=user, name=name[:100], query=filter_query(params)[:2000])
    except IntegrityError:
        raise ValidationError(_("You already have a filter named «%(name)s».") % {"name": name}) from None


def saved_filter_delete(*, user, saved_filter_id):
    deleted, _count = SavedFilter.objects.filter(user=user, pk=saved_filter_id).delete()
    return bool(deleted)
