"""The inbox in the admin: watched sources (with a live preview of what their selectors extract) and the
triage queue of candidates (收录 → a pre-filled draft entry, 忽略 with a reason, bulk actions).

Every write goes through ``sources.services``, which checks the user's permissions itself."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from soupsieve import SelectorSyntaxError
from soupsieve import compile as compile_selector

from policies.models import Region, RegionKind
from sources.models import Candidate, CandidateStatus, Source, SourceKind
from sources.services import (
    candidate_take,
    candidates_ignore,
    candidates_restore,
    source_preview,
    sources_poll_soon,
)

SELECTOR_FIELDS = ["item_selector", "title_selector", "link_selector", "date_selector", "next_selector"]


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = [
            "name",
            "url",
            "kind",
            "region",
            "level",
            "issuer",
            "interval",
            "enabled",
            *SELECTOR_FIELDS,
            "max_pages",
        ]

    def clean(self):
        cleaned = super().clean()
        for name in SELECTOR_FIELDS:
            value = cleaned.get(name)
            if value:
                try:
                    compile_selector(value)
                except (SelectorSyntaxError, ValueError) as error:
                    self.add_error(name, _("Not a CSS selector: %(error)s") % {"error": error})
        if cleaned.get("kind") == SourceKind.LIST and not cleaned.get("item_selector"):
            self.add_error("item_selector", _("A list page needs an item selector."))
        return cleaned


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = ["name", "kind", "level", "region", "enabled", "last_polled_at", "status_shown", "next_poll_at"]
    list_filter = ["kind", "level", "enabled"]
    search_fields = ["name", "url"]
    autocomplete_fields = ["region"]
    readonly_fields = ["last_polled_at", "last_status", "last_error", "failures", "next_poll_at"]
    actions = ["poll_soon"]
    fieldsets = [
        (None, {"fields": ["name", "url", "kind", "region", "level", "issuer", "interval", "enabled"]}),
        (_("HTML list page"), {"fields": [*SELECTOR_FIELDS, "max_pages"]}),
        (_("Last poll"), {"fields": readonly_fields}),
    ]

    @admin.display(description=_("last status"))
    def status_shown(self, source):
        if source.last_error:
            return format_html(
                '<span class="errornote-inline" title="{}">{}</span>', source.last_error, source.last_status
            )
        return source.last_status

    @admin.action(description=_("Poll at the next tick"), permissions=["change"])
    def poll_soon(self, request, queryset):
        count = sources_poll_soon(sources=list(queryset), by=request.user)
        self.message_user(request, ngettext("%d source will be polled.", "%d sources will be polled.", count) % count)

    def get_urls(self):
        view = self.admin_site.admin_view(self.preview_view)
        return [path("<int:pk>/preview/", view, name="sources_source_preview"), *super().get_urls()]

    def preview_view(self, request, pk):
        """What the selectors (the saved ones, or those typed in the form on this page) extract now."""
        source = get_object_or_404(Source, pk=pk)
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        for name in SELECTOR_FIELDS:
            if name in request.GET:
                setattr(source, name, request.GET[name].strip()[:200])
        items, error = source_preview(source=source, by=request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "source": source,
            "title": _("Preview of %(source)s") % {"source": source},
            "items": items[:100],
            "count": len(items),
            "error": error,
            "selectors": [
                (name, Source._meta.get_field(name).verbose_name, getattr(source, name)) for name in SELECTOR_FIELDS
            ],
        }
        return TemplateResponse(request, "admin/sources/source/preview.html", context)


# --- triage ----------------------------------------------------------------------------------------------

OPEN = "open"


class StatusFilter(admin.SimpleListFilter):
    """The queue shows what is still to decide unless asked otherwise."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(OPEN, _("To triage")), *CandidateStatus.choices, ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or OPEN
        if value == OPEN:
            return queryset.filter(status__in=[CandidateStatus.NEW, CandidateStatus.DUPLICATE])
        if value in CandidateStatus.values:
            return queryset.filter(status=value)
        return queryset


class ProvinceFilter(admin.SimpleListFilter):
    """A province matches the candidates tagged with it or with a region inside it."""

    title = _("region")
    parameter_name = "province"

    def lookups(self, request, model_admin):
        return [(str(r.code), r.name) for r in Region.objects.filter(kind=RegionKind.PROVINCE).order_by("code")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        code = int(value) // 10000 * 10000
        return queryset.filter(regions__code__gte=code, regions__code__lt=code + 10000).distinct()


class SourceFilter(admin.SimpleListFilter):
    title = _("source")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Source.objects.order_by("name").values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        return queryset.filter(sightings__source_id=int(value)).distinct()


class TriageActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label=_("reason"), required=False, max_length=300)


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = [
        "title_shown",
        "published_on",
        "issuer",
        "doc_number",
        "level",
        "regions_shown",
        "themes_shown",
        "status_shown",
        "sightings_count",
    ]
    list_display_links = None
    list_filter = [StatusFilter, SourceFilter, ProvinceFilter, "level", "themes"]
    search_fields = ["title", "doc_number", "issuer"]
    action_form = TriageActionForm
    actions = ["take_selected", "ignore_selected", "restore_selected"]
    list_per_page = 50
    change_form_template = "admin/sources/candidate/change_form.html"
    fields = [
        "title",
        "url",
        "published_on",
        "issued_on",
        "issuer",
        "doc_number",
        "level",
        "regions",
        "themes",
        "summary",
        "status",
        "duplicate_of_shown",
        "entry_shown",
        "sightings_shown",
        "decisions_shown",
        "text_shown",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("duplicate_of", "entry")
            .prefetch_related("regions", "themes")
            .annotate(sightings_total=Count("sightings", distinct=True))
            .order_by(F("published_on").desc(nulls_last=True), "-pk")
        )

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False  # candidates come from the sources

    # --- columns -----------------------------------------------------------------------------------------

    @admin.display(description=_("title"), ordering="title")
    def title_shown(self, candidate):
        url = reverse("admin:sources_candidate_change", args=[candidate.pk])
        return format_html('<a href="{}">{}</a>', url, candidate.title)

    @admin.display(description=_("regions"))
    def regions_shown(self, candidate):
        return "、".join(region.name for region in candidate.regions.all())

    @admin.display(description=_("themes"))
    def themes_shown(self, candidate):
        return "、".join(theme.name for theme in candidate.themes.all())

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, candidate):
        if candidate.status == CandidateStatus.DUPLICATE and candidate.duplicate_of_id:
            return format_html(
                '<span class="candidate-duplicate">{}</span> <a href="{}">{}</a>',
                candidate.get_status_display(),
                candidate.duplicate_of.get_admin_url(),
                candidate.duplicate_of,
            )
        if candidate.status == CandidateStatus.TAKEN and candidate.entry_id:
            return format_html(
                '{} <a href="{}">{}</a>',
                candidate.get_status_display(),
                candidate.entry.get_admin_url(),
                candidate.entry,
            )
        if candidate.status == CandidateStatus.IGNORED:
            return format_html(
                '{} <span class="help">{}</span>', candidate.get_status_display(), candidate.ignore_reason
            )
        return candidate.get_status_display()

    @admin.display(description=_("sources"), ordering="sightings_total")
    def sightings_count(self, candidate):
        return candidate.sightings_total

    # --- change page ---------------------------------------------------------------------------------------

    @admin.display(description=_("duplicate of"))
    def duplicate_of_shown(self, candidate):
        if not candidate.duplicate_of_id:
            return "-"
        entry = candidate.duplicate_of
        return format_html('<a href="{}" class="candidate-duplicate">{}</a>', entry.get_admin_url(), entry)

    @admin.display(description=_("entry"))
    def entry_shown(self, candidate):
        if not candidate.entry_id:
            return "-"
        return format_html('<a href="{}">{}</a>', candidate.entry.get_admin_url(), candidate.entry)

    @admin.display(description=_("found on"))
    def sightings_shown(self, candidate):
        rows = candidate.sightings.select_related("source")
        return format_html_join(
            "",
            '<div><a href="{}" rel="noopener noreferrer" target="_blank">{}</a> · {}</div>',
            ((s.url, s.url, s.source.name if s.source else "-") for s in rows),
        )

    @admin.display(description=_("decisions"))
    def decisions_shown(self, candidate):
        rows = candidate.decisions.select_related("by")
        return (
            format_html_join(
                "",
                "<div>{} · {} · {} {}</div>",
                (
                    (timezone.localtime(d.at).strftime("%Y-%m-%d %H:%M"), d.by or "-", d.get_action_display(), d.reason)
                    for d in rows
                ),
            )
            or "-"
        )

    @admin.display(description=_("main text"))
    def text_shown(self, candidate):
        return format_html('<div class="candidate-text">{}</div>', candidate.text or "-")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/take/", wrap(require_POST(self.take_view)), name="sources_candidate_take"),
            path("<int:pk>/ignore/", wrap(require_POST(self.ignore_view)), name="sources_candidate_ignore"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "ignore_reasons": [
                _("Not about digital government"),
                _("Not a policy document"),
                _("Already in the catalogue"),
            ],
            "can_triage": request.user.has_perm("sources.change_candidate"),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def take_view(self, request, pk):
        candidate = get_object_or_404(Candidate, pk=pk)
        try:
            entry = candidate_take(candidate=candidate, by=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:sources_candidate_change", args=[pk]))
        self.message_user(request, _("A draft entry was made from the candidate: check it and save."))
        return HttpResponseRedirect(entry.get_admin_url())

    def ignore_view(self, request, pk):
        candidate = get_object_or_404(Candidate, pk=pk)
        try:
            candidates_ignore(candidates=[candidate], reason=request.POST.get("reason", ""), by=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:sources_candidate_change", args=[pk]))
        self.message_user(request, _("The candidate was ignored."))
        following = self._next_in_queue(candidate)
        if following is not None:
            return HttpResponseRedirect(reverse("admin:sources_candidate_change", args=[following]))
        return HttpResponseRedirect(reverse("admin:sources_candidate_changelist"))

    @staticmethod
    def _next_in_queue(candidate):
        """The candidate after this one in the queue still to triage (keyboard triage goes on without a list)."""
        queue = Candidate.objects.queue().filter(status__in=[CandidateStatus.NEW, CandidateStatus.DUPLICATE])
        return queue.exclude(pk=candidate.pk).values_list("pk", flat=True).first()

    # --- bulk actions --------------------------------------------------------------------------------------

    @admin.action(description=_("Take: make draft entries"), permissions=["change"])
    def take_selected(self, request, queryset):
        entries = []
        for candidate in queryset.exclude(status=CandidateStatus.TAKEN).order_by("pk"):
            entries.append(candidate_take(candidate=candidate, by=request.user))
        if len(entries) == 1:
            self.message_user(request, _("A draft entry was made from the candidate: check it and save."))
            return HttpResponseRedirect(entries[0].get_admin_url())
        self.message_user(
            request, ngettext("%d draft entry was made.", "%d draft entries were made.", len(entries)) % len(entries)
        )
        return None

    @admin.action(description=_("Ignore (with the reason given)"), permissions=["change"])
    def ignore_selected(self, request, queryset):
        try:
            count = candidates_ignore(candidates=list(queryset), reason=request.POST.get("reason", ""), by=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self.message_user(request, ngettext("%d candidate ignored.", "%d candidates ignored.", count) % count)

    @admin.action(description=_("Put back in the queue"), permissions=["change"])
    def restore_selected(self, request, queryset):
        count = candidates_restore(candidates=list(queryset), by=request.user)
        self.message_user(request, ngettext("%d candidate put back.", "%d candidates put back.", count) % count)
