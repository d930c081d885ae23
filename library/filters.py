"""The one FilterSet of the library: the page, its exports, facets, map and any later feed or alert read the
same parameters through it, so they always agree.

Addresses are part of the product: ``region`` (GB/T 2260 codes, several), ``theme`` (slugs, several),
``level``, ``kind`` (several each), ``date_from``/``date_to`` (YYYY-MM-DD), ``issuer``, ``issue`` (期, by id
or YYYY-MM), ``q`` (keyword) and ``sort`` (``newest`` or ``relevance``).
"""

import re

import django_filters
from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from issues.models import Issue
from library.selectors import Criteria, catalogue_rows, vocabulary
from policies.indexing import query_tokens
from policies.models import CatalogueRow, Kind, Level, Region, Theme

MAX_KEYWORD = 100


class IssueKeyField(forms.CharField):
    """An issue by id (12) or by its key (2022-08)."""

    default_error_messages = {"invalid": _("No such issue: give its number or its month, like 2022-08.")}

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        found = None
        if value.isdigit() and len(value) < 10:
            found = Issue.objects.filter(pk=int(value)).first()
        elif match := re.fullmatch(r"(\d{4})-(\d{1,2})", value):
            year, month = int(match[1]), int(match[2])
            if 1 <= month <= 12:
                found = Issue.objects.filter(year=year, month=month).order_by("series__name").first()
        if found is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return found


class IssueKeyFilter(django_filters.Filter):
    field_class = IssueKeyField


class RegionCodesField(django_filters.fields.ModelMultipleChoiceField):
    """GB/T 2260 codes: anything but a six-digit-ish number is refused before it reaches the database."""

    def _check_values(self, value):
        for code in value:
            if not str(code).isdigit() or len(str(code)) > 9:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": str(code)[:20]}
                )
        provinces = {str(region.code): region for region in vocabulary()["provinces"]}
        if all(str(code) in provinces for code in value):  # the usual case, answered without a query
            return [provinces[code] for code in dict.fromkeys(str(code) for code in value)]
        return super()._check_values(value)


class RegionCodesFilter(django_filters.ModelMultipleChoiceFilter):
    field_class = RegionCodesField


class ThemeSlugsField(django_filters.fields.ModelMultipleChoiceField):
    """Theme slugs, checked against the cached vocabulary first (no query when they are all in it)."""

    def _check_values(self, value):
        themes = {theme.slug: theme for theme in vocabulary()["themes"]}
        if all(isinstance(slug, str) and slug in themes for slug in value):
            return [themes[slug] for slug in dict.fromkeys(value)]
        return super()._check_values(value)


class ThemeSlugsFilter(django_filters.ModelMultipleChoiceFilter):
    field_class = ThemeSlugsField


class LibraryFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
            cleaned.pop("date_to", None)
        return cleaned


class LibraryFilter(django_filters.FilterSet):
    region = RegionCodesFilter(
        label=_("Region"),
        queryset=Region.objects.filter(parent=None),
        method="_criteria",
        widget=forms.CheckboxSelectMultiple,
    )
    theme = ThemeSlugsFilter(
        label=_("Theme"),
        queryset=Theme.objects.all(),
        to_field_name="slug",
        method="_criteria",
        widget=forms.CheckboxSelectMultiple,
    )
    level = django_filters.MultipleChoiceFilter(
        label=_("Level"), choices=Level.choices, method="_criteria", widget=forms.CheckboxSelectMultiple
    )
    kind = django_filters.MultipleChoiceFilter(
        label=_("Kind"), choices=Kind.choices, method="_criteria", widget=forms.CheckboxSelectMultiple
    )
    date_from = django_filters.DateFilter(
        label=_("From"), method="_criteria", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        label=_("To"), method="_criteria", widget=forms.DateInput(attrs={"type": "date"})
    )
    issuer = django_filters.CharFilter(label=_("Issuing body"), max_length=100, method="_criteria")
    issue = IssueKeyFilter(label=_("Issue"), method="_criteria")
    q = django_filters.CharFilter(label=_("Keyword"), max_length=MAX_KEYWORD, method="_criteria")
    sort = django_filters.ChoiceFilter(
        label=_("Sort"),
        choices=[("newest", _("Newest first")), ("relevance", _("Relevance"))],
        empty_label=None,
        method="_criteria",
    )

    class Meta:
        model = CatalogueRow  # what ``qs`` yields: the matching rows of the library's index
        form = LibraryFilterForm
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not isinstance(data, QueryDict):
            # A plain mapping from code (a feed, an alert, a test): values may be single or lists.
            query = QueryDict(mutable=True)
            for name, value in data.items():
                query.setlist(name, [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)])
            data = query
        super().__init__(data, *args, **kwargs)
        # Every region may be asked for (a city too), though the form lists the provinces.
        self.filters["region"].queryset = Region.objects.all()

    def _criteria(self, queryset, name, value):
        return queryset  # the criteria are read as a whole in filter_queryset

    def criteria(self):
        """The valid part of the request as ``Criteria``; invalid fields are left out (see ``errors``)."""
        if not hasattr(self, "_criteria_cache"):
            data = {}
            if self.is_bound:
                self.form.is_valid()
                data = self.form.cleaned_data
            keyword = (data.get("q") or "").strip()
            issue = data.get("issue")
            self._criteria_cache = Criteria(
                regions=tuple(sorted(region.code for region in data.get("region") or ())),
                themes=tuple(sorted(theme.pk for theme in data.get("theme") or ())),
                levels=tuple(sorted(data.get("level") or ())),
                kinds=tuple(sorted(data.get("kind") or ())),
                date_from=data.get("date_from"),
                date_to=data.get("date_to"),
                issuer=(data.get("issuer") or "").strip(),
                issue_id=issue.pk if issue else None,
                keyword=keyword,
                tokens=tuple(query_tokens(keyword)) if keyword else (),
                sort=data.get("sort") or "newest",
            )
        return self._criteria_cache

    @property
    def qs(self):
        """The matching catalogue rows, ``(published_on, entry_id)``, newest first."""
        if not hasattr(self, "_qs"):
            self._qs = catalogue_rows(self.criteria())
        return self._qs

    def error_messages(self):
        """One line per invalid parameter, for the page's message box."""
        if not self.is_bound or self.form.is_valid():
            return []
        lines = []
        for name, errors in self.form.errors.items():
            label = self.form.fields[name].label if name in self.form.fields else ""
            for error in errors:
                lines.append(f"{label}: {error}" if label else str(error))
        return lines
