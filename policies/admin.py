import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Count, Q, When
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportModelAdmin

from policies.admin_exports import SafeExportAdminMixin
from policies.admin_history import GuardedHistoryAdmin
from policies.admin_imports import ImportJobAdminMixin
from policies.indexing import catalogue_flush, entries_delete
from policies.models import Analysis, Briefing, Entry, Partner, Policy, Region, RegionKind, Theme
from policies.resources import AnalysisResource, BriefingResource, EntryResource, PolicyResource
from policies.services import (
    entry_apply_suggested_themes,
    entry_mark_draft,
    entry_mark_ready,
    entry_suggestion_text,
    region_check,
    region_is_standard,
    region_path,
    region_save,
    region_suggestions,
    theme_merge,
    theme_suggestions,
)


class RegionForm(forms.ModelForm):
    """Checks the write with ``region_check`` (the service's own rules), so a refusal is a form error."""

    user = None

    class Meta:
        model = Region
        fields = ["code", "name", "short_name", "kind", "parent", "aliases"]
        widgets = {
            # A six-digit code typed as text, not a number spinner that steps through 410171 one by one.
            "code": forms.TextInput(attrs={"inputmode": "numeric", "pattern": "[0-9]{6}", "size": 8, "maxlength": 6}),
        }
        help_texts = {
            "code": _("Six digits inside the parent's range, e.g. 410171 under 郑州市 410100."),
            "parent": _("Type a name, a short name or pinyin initials (zz for 郑州)."),
        }

    def clean(self):
        cleaned = super().clean()
        code = cleaned.get("code", self.instance.code if self.instance.pk else None)
        if code is None or self.errors:
            return cleaned
        stored = Region.objects.filter(pk=self.instance.pk).first() if not self.instance._state.adding else None
        try:
            region_check(
                by=self.user,
                stored=stored,
                code=code,
                kind=cleaned.get("kind", self.instance.kind),
                parent=cleaned.get("parent"),
            )
        except PermissionDenied as error:
            raise ValidationError(str(error)) from None
        except ValidationError as error:
            # a message about a field the form does not show (the code of a stored region) is the form's own
            by_field = error.error_dict if hasattr(error, "error_dict") else {None: error.error_list}
            for field, errors in by_field.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


def region_choices(field):
    """A region form field (a select, an autocomplete) whose choices read 江苏省 · 南京市 · 鼓楼区, the path
    loaded with each region in one query."""
    if field is not None:
        field.queryset = field.queryset.select_related("parent__parent")
        field.label_from_instance = Region.path
    return field


class RegionListFilter(admin.RelatedOnlyFieldListFilter):
    """The regions entries are tagged with, each named by its path (in one query)."""

    def field_choices(self, field, request, model_admin):
        tagged = model_admin.get_queryset(request).values("regions").order_by()
        regions = Region.objects.filter(pk__in=tagged).select_related("parent__parent").order_by("code")
        return [(region.pk, region.path()) for region in regions]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    """Provinces and GB/T 2260 regions are read-only but for an administrator; staff add the places GB/T 2260
    lacks (a development zone) below them. Every region widget of the admin searches here: by name, short name,
    alias, code or pinyin initials."""

    form = RegionForm
    list_display = ["code", "name", "short_name", "kind", "parent", "aliases"]
    list_filter = ["kind"]
    search_fields = ["name", "short_name", "aliases", "=code"]
    autocomplete_fields = ["parent"]
    ordering = ["code"]
    list_select_related = ["parent"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent__parent")

    def autocomplete_label(self, region):
        """What the admin's region autocompletes show (``dgd.admin_site``): the path, not the bare name."""
        return region.path()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return region_choices(field) if db_field.name == "parent" else field

    def get_search_results(self, request, queryset, search_term):
        """Besides the names: pinyin initials (``jj`` → 靖江市, 晋江市 …), a code's leading digits (``3212``), a
        name after the names of regions above it (``南京 鼓楼`` → 南京市's 鼓楼区 alone), and the larger divisions
        first so that 苏州 offers 苏州市 before its districts."""
        term = search_term.strip()
        if term.isascii() and term.isalpha():
            results = queryset.filter(initials__startswith=term.lower())
            return self._ranked(results), False
        if term.isdigit():
            return self._ranked(queryset.filter(code__startswith=term)), False
        *above, name = term.split() or [""]
        if above:  # 南京 鼓楼: the region named last, under regions named by the words before it
            results = queryset.filter(Q(name__contains=name) | Q(short_name__contains=name) | Q(aliases__contains=name))
            for word in above:
                results = results.filter(
                    Q(parent__name__contains=word)
                    | Q(parent__short_name__contains=word)
                    | Q(parent__parent__name__contains=word)
                    | Q(parent__parent__short_name__contains=word)
                )
            return self._ranked(results), False
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return (self._ranked(results) if term else results), may_have_duplicates

    @staticmethod
    def _ranked(queryset):
        level = Case(When(kind=RegionKind.PROVINCE, then=0), When(kind=RegionKind.CITY, then=1), default=2)
        return queryset.annotate(level=level).order_by("level", "code")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj else []

    def get_changeform_initial_data(self, request):
        # What staff add is a place GB/T 2260 lacks below a city (a development zone), not a province.
        return {"kind": RegionKind.COUNTY, **super().get_changeform_initial_data(request)}

    def has_change_permission(self, request, obj=None):
        if obj is not None and not request.user.is_superuser and region_is_standard(code=obj.code, kind=obj.kind):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not request.user.is_superuser and region_is_standard(code=obj.code, kind=obj.kind):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        region_save(region=obj, by=request.user)


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "keyword_preview", "position", "entry_count"]
    list_editable = ["position"]
    search_fields = ["name", "slug", "keywords"]
    actions = ["merge"]

    def has_merge_permission(self, request):
        return request.user.has_perm("policies.change_theme") and request.user.has_perm("policies.delete_theme")

    @admin.action(description=_("Merge the selected themes into another"), permissions=["merge"])
    def merge(self, request, queryset):
        """A page to choose the theme to merge into; its POST comes back here with ``into``."""
        into = Theme.objects.filter(pk=request.POST.get("into") or None).first()
        if into is not None:
            try:
                retagged = theme_merge(themes=list(queryset), into=into, by=request.user)
            except (PermissionDenied, ValidationError) as error:
                self.message_user(request, " ".join(getattr(error, "messages", [str(error)])), messages.ERROR)
                return None
            self.message_user(
                request, _("Merged into %(theme)s: %(count)d entries retagged.") % {"theme": into, "count": retagged}
            )
            return None
        return TemplateResponse(
            request,
            "admin/policies/theme/merge.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Merge themes"),
                "opts": self.model._meta,
                "themes": queryset,
                "choices": Theme.objects.all(),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(entry_count=Count("entries"))

    @admin.display(description=_("keywords"))
    def keyword_preview(self, theme):
        return "、".join(theme.keyword_list)

    @admin.display(description=_("entries"), ordering="entry_count")
    def entry_count(self, theme):
        return theme.entry_count


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "full_name"]
    search_fields = ["name", "full_name"]


class EntryAdmin(ImportJobAdminMixin, SafeExportAdminMixin, ImportExportModelAdmin, GuardedHistoryAdmin):
    """The admin every kind of entry shares; each kind narrows the fields it shows."""

    resource_classes = [EntryResource]
    list_display = ["display_title", "kind", "level", "region_tags", "theme_tags", "published_on", "status"]
    list_filter = ["status", "kind", "level", ("regions", RegionListFilter), "themes", "published_on"]
    search_fields = ["title", "issuer", "doc_number", "summary"]
    autocomplete_fields = ["regions", "themes", "partners", "interprets"]
    # The ready state changes only through the actions (entry_mark_ready / entry_mark_draft), never the form.
    readonly_fields = ["status", "suggested_regions", "suggested_themes", "issue_list", "created_at", "updated_at"]
    date_hierarchy = "published_on"
    list_per_page = 50
    actions = ["mark_ready", "mark_draft", "apply_suggested_themes"]
    history_list_display = ["status"]
    fieldsets = [
        (None, {"fields": ["kind", "title", "issuer", "action", "doc_number", "level", "status"]}),
        (
            _("Regions and themes"),
            {"fields": ["regions", "suggested_regions", "partners", "themes", "suggested_themes"]},
        ),
        (_("Dates"), {"fields": ["issued_on", "published_on"]}),
        (_("Content"), {"fields": ["source_url", "summary", "interprets", "body"]}),
        (_("Full text of the original"), {"fields": ["full_text"], "classes": ["collapse"]}),
        (_("Issues"), {"fields": ["issue_list", "created_at", "updated_at"]}),
    ]

    class Media:
        # Wide title input, live preview of the summary's **bold**, one-click apply of suggestions (issue 15).
        css = {"all": ["dgd/admin.css"]}
        js = ["admin/js/jquery.init.js", "dgd/admin-entry.js"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("regions", "themes")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "regions":
            return region_choices(field)
        if db_field.name == "title" and field is not None:
            field.widget.attrs["class"] = "vTextField dgd-wide"  # long Chinese titles are read whole
        if db_field.name == "summary" and field is not None:
            field.widget.attrs["data-markup-preview"] = "summary"  # dgd/admin-entry.js shows **bold** as bold
        return field

    @admin.display(description=_("title"), ordering="title")
    def display_title(self, entry):
        return entry.display_title

    @admin.display(description=_("regions"))
    def region_tags(self, entry):
        return "、".join(region.short_name for region in entry.regions.all())

    @admin.display(description=_("themes"))
    def theme_tags(self, entry):
        return "、".join(theme.name for theme in entry.themes.all())

    @admin.display(description=_("suggested regions"))
    def suggested_regions(self, entry):
        """The most specific regions the title and summary name (policies.gazetteer), beyond the entry's own;
        one click adds them to the regions field (dgd/admin-entry.js), saving the form keeps them."""
        if not entry.pk:
            return _("Suggested from the title and summary once the entry is saved.")
        regions = region_suggestions(entry=entry)
        if not regions:
            return "—"
        choices = json.dumps([{"id": region.pk, "text": str(region)} for region in regions], ensure_ascii=False)
        return format_html(
            '{} <button type="button" class="button dgd-apply-suggestions dgd-apply-regions" data-apply-to="regions" '
            'data-choices="{}">{}</button>',
            "、".join(region_path(region) for region in regions),
            choices,
            _("Apply the suggested regions"),
        )

    @admin.display(description=_("suggested themes"))
    def suggested_themes(self, entry):
        if not entry.pk:
            return _("Suggested from the keyword rules once the entry is saved.")
        themes = theme_suggestions(text=entry_suggestion_text(entry))
        if not themes:
            return "—"
        # One click puts the suggestions into the themes field (dgd/admin-entry.js); saving the form keeps them.
        choices = json.dumps([{"id": theme.pk, "text": theme.name} for theme in themes], ensure_ascii=False)
        return format_html(
            '{} <button type="button" class="button dgd-apply-suggestions dgd-apply-themes" data-apply-to="themes" '
            'data-choices="{}">{}</button>',
            "、".join(theme.name for theme in themes),
            choices,
            _("Apply the suggested themes"),
        )

    @admin.display(description=_("appears in"))
    def issue_list(self, entry):
        items = entry.issue_items.select_related("issue__series")
        if not items:
            return "—"
        # Each issue says what an edit of its entries does to it now (issues.models.Issue.entry_edit_note).
        rows = [
            (str(item.issue), f"（{item.issue.entry_edit_note}）" if item.issue.entry_edit_note else "")
            for item in items
        ]
        return format_html_join(mark_safe("<br>"), "{}{}", rows)

    # -- actions -------------------------------------------------------------------------------
    def has_mark_ready_permission(self, request):
        return request.user.has_perm("policies.mark_ready")

    @admin.action(description=_("Mark selected entries ready"), permissions=["mark_ready"])
    def mark_ready(self, request, queryset):
        try:
            count = entry_mark_ready(entries=list(queryset), by=request.user)
        except PermissionDenied as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)d entry marked ready.", "%(count)d entries marked ready.", count) % {"count": count},
        )

    @admin.action(description=_("Take selected entries back to draft"), permissions=["mark_ready"])
    def mark_draft(self, request, queryset):
        try:
            count = entry_mark_draft(entries=list(queryset), by=request.user)
        except PermissionDenied as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)d entry taken back to draft.", "%(count)d entries taken back to draft.", count)
            % {"count": count},
        )

    @admin.action(description=_("Add the suggested themes"), permissions=["change"])
    def apply_suggested_themes(self, request, queryset):
        added = sum(len(entry_apply_suggested_themes(entry=entry)) for entry in queryset)
        catalogue_flush()
        self.message_user(request, _("%(count)d themes added.") % {"count": added})

    def delete_model(self, request, obj):
        entries_delete(entry_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        entries_delete(entry_ids=list(queryset.values_list("pk", flat=True)))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        entry = form.instance
        if not change and not entry.themes.exists():
            added = entry_apply_suggested_themes(entry=entry)
            if added:
                self.message_user(
                    request,
                    format_html(
                        _("Themes suggested from the keyword rules: {}. Confirm or change them."),
                        "、".join(theme.name for theme in added),
                    ),
                )
        catalogue_flush()


class KindAdmin(EntryAdmin):
    """The admin of one kind: the kind is fixed, so its field and filter go."""

    list_display = ["display_title", "level", "region_tags", "theme_tags", "published_on", "status"]
    list_filter = ["status", "level", ("regions", RegionListFilter), "themes", "published_on"]
    hidden = ["kind"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):
            fields = [f for f in options["fields"] if f not in self.hidden]
            if fields:
                fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets


@admin.register(Policy)
class PolicyAdmin(KindAdmin):
    resource_classes = [PolicyResource]
    hidden = ["kind", "partners", "interprets", "body"]


@admin.register(Analysis)
class AnalysisAdmin(KindAdmin):
    resource_classes = [AnalysisResource]
    hidden = ["kind", "issuer", "action", "doc_number", "partners", "issued_on", "full_text"]


@admin.register(Briefing)
class BriefingAdmin(KindAdmin):
    resource_classes = [BriefingResource]
    hidden = ["kind", "action", "doc_number", "partners", "interprets", "body", "issued_on", "full_text"]


@admin.register(Entry)
class AllEntriesAdmin(EntryAdmin):
    """Every entry of every kind in one list (and the search behind the entry autocompletes)."""

    def has_add_permission(self, request):
        return False  # add through the kind's own page, which fixes the kind

    def has_import_permission(self, request):
        return False  # likewise import: each kind's sheet has its own columns, and its rows keep their kind
