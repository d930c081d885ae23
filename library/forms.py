"""Forms of the sales library (its filter is ``library.filters.LibraryFilter``)."""

from django import forms
from django.utils.translation import gettext_lazy as _


class SavedFilterForm(forms.Form):
    """The name a filter is saved under. Django's ``CharField`` refuses a NUL character (which PostgreSQL
    cannot store) and the length is the model's."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        error_messages={"required": _("Give the filter a name.")},
    )
