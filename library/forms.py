"""Forms of the sales library (its filter is ``library.filters.LibraryFilter``)."""

from django import forms
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from library.markup import esc


class SavedFilterForm(forms.Form):
    """The name a filter is saved under. Django's ``CharField`` refuses a NUL character (which PostgreSQL
    cannot store) and the length is the model's."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        error_messages={"required": _("Give the filter a name.")},
    )


def checkbox_list(name, choices, chosen):
    """The markup of a list of checkboxes, ``choices`` as (value, label), those in ``chosen`` checked: plain
    string building instead of Django's per-option widget templates, which cost more than the page's queries
    (a province list, the themes, levels and kinds on every request)."""
    items = []
    for value, label in choices:
        checked = " checked" if value in chosen else ""
        items.append(
            f'<li><label><input type="checkbox" name="{name}" value="{esc(value)}"{checked}> {esc(label)}</label></li>'
        )
    return mark_safe(f'<ul class="checkboxes" id="id_{name}">{"".join(items)}</ul>')  # every value escaped above


def issue_options(issues, chosen):
    """The ``<option>`` list of the issue selector: every issue by id, the chosen one selected."""
    items = [f'<option value="">{esc(_("All issues"))}</option>']
    for pk, label in issues:
        selected = " selected" if pk == chosen else ""
        items.append(f'<option value="{pk}"{selected}>{esc(label)}</option>')
    return mark_safe("".join(items))  # every value escaped above
