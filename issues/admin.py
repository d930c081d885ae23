from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from issues.models import Issue, IssueEntry, Series
from issues.selectors import issue_items, issue_sections, issue_stats


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "publication", "publisher"]
    search_fields = ["name"]


class IssueEntryInline(SortableTabularInline):
    model = IssueEntry
    fields = ["section", "entry"]
    autocomplete_fields = ["entry"]
    extra = 0


@admin.register(Issue)
class IssueAdmin(SortableAdminBase, SimpleHistoryAdmin):
    list_display = ["__str__", "key", "status", "entry_count", "published_at"]
    list_filter = ["status", "series", "year"]
    search_fields = ["intro", "series__name"]
    readonly_fields = ["published_at", "source_name", "stats", "numbering", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["series", "year", "month", "number", "status", "publish_at", "published_at"]}),
        (_("Introduction"), {"fields": ["intro", "stats"]}),
        (_("Contents"), {"fields": ["numbering"]}),
        (_("Record"), {"fields": ["source_name", "created_at", "updated_at"]}),
    ]
    inlines = [IssueEntryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("series").annotate(entry_total=Count("items"))

    @admin.display(description=_("entries"), ordering="entry_total")
    def entry_count(self, issue):
        return issue.entry_total

    @admin.display(description=_("counts"))
    def stats(self, issue):
        if not issue.pk:
            return "—"
        s = issue_stats(issue_items(issue))
        return (
            f"政策 {s['policies']} 条（国家级 {s['national']}，部委 {s['ministry']}，省级 {s['provincial']}），"
            f"创新实践 {s['practices']} 条"
        )

    @admin.display(description=_("numbering"))
    def numbering(self, issue):
        if not issue.pk:
            return "—"
        rows = []
        for section in issue_sections(issue):
            rows.append((format_html("<strong>{}</strong>", section.title),))
            rows.extend((f"{n.number}、{n.entry.display_title}",) for n in section.items)
        return format_html_join(format_html("<br>"), "{}", rows)
