import datetime
from zoneinfo import ZoneInfo

from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from issues.models import EDITABLE_STATUSES, Issue, IssueEntry, IssueRevision, Series
from issues.selectors import issue_items, issue_sections, issue_stats
from issues.services import AssemblyError, issue_assemble, issue_regenerate_intro
from issues.workflow import TRANSITIONS, WorkflowError, allowed_actions, issue_revise, issue_transition
from policies.admin_history import GuardedHistoryAdmin

SHANGHAI = ZoneInfo("Asia/Shanghai")


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "publication", "publisher"]
    search_fields = ["name"]


class IssueEntryForm(forms.ModelForm):
    """An entry appears in one issue only (the workflow refuses a submit or an approval otherwise, too)."""

    class Meta:
        model = IssueEntry
        fields = ["section", "entry"]

    def clean_entry(self):
        entry = self.cleaned_data["entry"]
        other = IssueEntry.objects.filter(entry=entry).exclude(issue_id=self.instance.issue_id).first()
        if other is not None:
            raise ValidationError(_("This entry is in %(issue)s already.") % {"issue": other.issue})
        return entry


class IssueEntryInline(SortableTabularInline):
    model = IssueEntry
    form = IssueEntryForm
    fields = ["section", "entry"]
    autocomplete_fields = ["entry"]
    extra = 0

    def _editable(self, obj):
        return obj is None or obj.status in EDITABLE_STATUSES

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Issue)
class IssueAdmin(SortableAdminBase, GuardedHistoryAdmin):
    list_display = ["__str__", "key", "status", "entry_count", "publish_at", "published_at"]
    list_filter = ["status", "series", "year"]
    search_fields = ["intro", "series__name"]
    readonly_fields = [
        "status",
        "publish_at",
        "published_at",
        "source_name",
        "stats",
        "numbering",
        "audit_trail",
        "content_rule",
        "revision_list",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["series", "year", "month", "number", "status", "publish_at", "published_at"]}),
        (gettext_lazy("Introduction"), {"fields": ["intro", "stats"]}),
        (gettext_lazy("Contents"), {"fields": ["numbering"]}),
        (gettext_lazy("Workflow"), {"fields": ["content_rule", "audit_trail", "revision_list"]}),
        (gettext_lazy("Record"), {"fields": ["source_name", "created_at", "updated_at"]}),
    ]
    inlines = [IssueEntryInline]
    change_form_template = "admin/issues/issue/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("series").annotate(entry_total=Count("items"))

    # An issue from approval on is the workflow's: deleting it would unpublish it (or drop an approval) with no
    # trace. Only drafts and issues in review can be deleted, one by one or as a list action.
    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.status in EDITABLE_STATUSES) and super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        if queryset.exclude(status__in=EDITABLE_STATUSES).exists():
            raise PermissionDenied(_("Only a draft or an issue in review can be deleted."))
        super().delete_queryset(request, queryset)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE_STATUSES:
            return [f.name for f in Issue._meta.fields if f.editable and f.name != "id"] + self.readonly_fields
        return self.readonly_fields

    def history_locked(self, issue):
        """From approval on, no version of the issue can be restored: the workflow owns it."""
        return issue.status not in EDITABLE_STATUSES

    # -- read-only displays --------------------------------------------------------------------
    @admin.display(description=gettext_lazy("the rule"))
    def content_rule(self, issue):
        rule = _(
            "Approval freezes the content: what the chief editor approved is what gets published. Edits to its "
            "entries after approval do not reach this issue unless a chief editor sends it back to draft and it "
            "is approved again. Only the workflow buttons change the status; restoring an old version never does."
        )
        if issue.pk and issue.approved_data and not issue.is_published:
            rule += " " + _("The content was frozen at approval; the preview shows it as it will be published.")
        return rule

    @admin.display(description=gettext_lazy("entries"), ordering="entry_total")
    def entry_count(self, issue):
        return issue.entry_total

    @admin.display(description=gettext_lazy("counts"))
    def stats(self, issue):
        if not issue.pk:
            return "—"
        s = issue_stats(issue_items(issue))
        return (
            f"政策 {s['policies']} 条（国家级 {s['national']}，部委 {s['ministry']}，省级 {s['provincial']}），"
            f"创新实践 {s['practices']} 条"
        )

    @admin.display(description=gettext_lazy("numbering"))
    def numbering(self, issue):
        if not issue.pk:
            return "—"
        rows = []
        for section in issue_sections(issue):
            rows.append((format_html("<strong>{}</strong>", section.title),))
            rows.extend((f"{n.number}、{n.entry.display_title}",) for n in section.items)
        return format_html_join(mark_safe("<br>"), "{}", rows) if rows else "—"

    @admin.display(description=gettext_lazy("audit trail"))
    def audit_trail(self, issue):
        events = issue.events.select_related("actor") if issue.pk else []
        rows = [
            (
                event.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                event.actor.get_username() if event.actor else _("scheduled publication"),
                TRANSITIONS[event.action].label if event.action in TRANSITIONS else _("Revise"),
                event.get_to_status_display(),
                f"：{event.comment}" if event.comment else "",
            )
            for event in events
        ]
        return format_html_join(mark_safe("<br>"), "{} · {} · {} → {}{}", rows) if rows else "—"

    @admin.display(description=gettext_lazy("published revisions"))
    def revision_list(self, issue):
        revisions = issue.revisions.select_related("created_by") if issue.pk else []
        rows = [
            (
                revision.number,
                revision.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                revision.created_by.get_username() if revision.created_by else "—",
                revision.reason,
            )
            for revision in revisions
        ]
        return format_html_join(mark_safe("<br>"), "r{} · {} · {} · {}", rows) if rows else "—"

    # -- workflow buttons ----------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/workflow/<str:action>/", view(self.workflow_view), name="issues_issue_workflow"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        issue = self.get_object(request, object_id)
        if issue is not None:
            actions = allowed_actions(issue, request.user)
            extra_context = {
                **(extra_context or {}),
                "workflow_actions": [(name, TRANSITIONS[name].label) for name in actions],
                "can_assemble": issue.status in EDITABLE_STATUSES and request.user.has_perm("issues.change_issue"),
                "can_revise": issue.is_published and request.user.has_perm("issues.publish_issue"),
                "now_in_shanghai": datetime.datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
                "preview_urls": [
                    (label, reverse("issues:preview", args=[issue.pk, rendition]))
                    for label, rendition in (("网页", "html"), ("PDF", "pdf"), ("文本", "text"), ("JSON", "json"))
                ],
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def workflow_view(self, request, pk, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        issue = get_object_or_404(Issue, pk=pk)
        try:
            message = self._take_step(request, issue, action)
        except (PermissionDenied, WorkflowError, AssemblyError) as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:issues_issue_change", args=[issue.pk]))

    def _take_step(self, request, issue, action):
        if action == "assemble":
            added = issue_assemble(issue=issue, by=request.user)
            return _("%(count)d ready entries of the month were added.") % {"count": added}
        if action == "regenerate_intro":
            issue_regenerate_intro(issue=issue, by=request.user)
            return _("The introduction was drafted again from the issue's content.")
        if action == "revise":
            revision = issue_revise(issue=issue, by=request.user, reason=request.POST.get("comment", ""))
            return _("Revision %(number)d is now what readers see.") % {"number": revision.number}
        if action not in TRANSITIONS:
            raise WorkflowError(_("Unknown action."))
        publish_at = None
        if action == "schedule":
            publish_at = _parse_shanghai_time(request.POST.get("publish_at", ""))
        issue, changed = issue_transition(
            issue=issue, action=action, by=request.user, comment=request.POST.get("comment", ""), publish_at=publish_at
        )
        if not changed:
            return _("The issue was already published; nothing changed.")
        return _("Done: the issue is now %(status)s.") % {"status": issue.get_status_display()}


def _parse_shanghai_time(value):
    """A datetime-local value, entered and meant in Asia/Shanghai time."""
    try:
        return datetime.datetime.fromisoformat(value.strip()).replace(tzinfo=SHANGHAI)
    except ValueError:
        raise WorkflowError(_("Enter the publication time as YYYY-MM-DD HH:MM (Asia/Shanghai).")) from None


@admin.register(IssueRevision)
class IssueRevisionAdmin(admin.ModelAdmin):
    list_display = ["issue", "number", "reason", "created_by", "created_at"]
    list_filter = ["issue__series"]
    readonly_fields = ["issue", "number", "data", "reason", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
