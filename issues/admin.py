import datetime
import json
from zoneinfo import ZoneInfo

from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from issues.history_text import reason_display
from issues.models import (
    DELETABLE_STATUSES,
    EDITABLE_STATUSES,
    Issue,
    IssueEntry,
    IssueNotice,
    IssueRevision,
    IssueStatus,
    Series,
)
from issues.notices import notices_send
from issues.selectors import issue_items, issue_sections, issue_stats
from issues.services import (
    AssemblyError,
    intro_is_hand_written,
    issue_assemble,
    issue_next_numbering,
    issue_regenerate_intro,
)
from issues.workflow import (
    TRANSITIONS,
    WorkflowError,
    allowed_actions,
    issue_revise,
    issue_transition,
    self_approval_refused,
)
from mailings.models import DeliveryStatus
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
    list_display = ["__str__", "month_key", "status", "entry_count", "publish_at", "published_at"]
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
        return (obj is None or obj.status in DELETABLE_STATUSES) and super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        if queryset.exclude(status__in=DELETABLE_STATUSES).exists():
            raise PermissionDenied(_("Only a draft or an issue in review can be deleted."))
        super().delete_queryset(request, queryset)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE_STATUSES:
            return [f.name for f in Issue._meta.fields if f.editable and f.name != "id"] + self.readonly_fields
        return self.readonly_fields

    def history_locked(self, issue):
        """From submission on, no version of the issue can be restored: the content under review stays put."""
        return issue.status not in EDITABLE_STATUSES

    def view_on_site(self, issue):
        """在站点上查看: the public page once published, the staff preview before (the public page is a 404)."""
        if issue.is_published:
            return issue.get_absolute_url()
        return reverse("issues:preview", args=[issue.pk])

    def get_changeform_initial_data(self, request):
        """A new issue starts as the next of its series: the month after the latest issue, the next number."""
        initial = super().get_changeform_initial_data(request)
        series = None
        if initial.get("series"):
            series = Series.objects.filter(pk=initial["series"]).first()
        if series is None:
            latest = Issue.objects.select_related("series").order_by("-year", "-month", "-pk").first()
            series = latest.series if latest else Series.objects.order_by("pk").first()
        if series is not None:
            initial = {"series": series.pk, **issue_next_numbering(series), **initial}
        return initial

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "intro" and field is not None:
            field.widget.attrs.update({"rows": 8, "class": "vLargeTextField dgd-wide"})
        return field

    def save_model(self, request, obj, form, change):
        # A workflow button posts the change form too (one form): with nothing changed, nothing is written, so
        # an approval leaves no empty "changed" version in the history.
        if change and request.POST.get(self.WORKFLOW_FIELD) and not form.has_changed():
            return
        super().save_model(request, obj, form, change)

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

    @admin.display(description=gettext_lazy("month"), ordering="year")
    def month_key(self, issue):
        return issue.key

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
                reason_display(revision.reason),
            )
            for revision in revisions
        ]
        return format_html_join(mark_safe("<br>"), "r{} · {} · {} · {}", rows) if rows else "—"

    # -- workflow buttons ----------------------------------------------------------------------
    # The workflow buttons belong to the change form (``form="issue_form"``): pressing 提交审核 saves the form
    # first and takes the step only if it saved, so an edit of 本期导读 is never lost, and a form with errors
    # is shown again with them and no step taken. Publishing and scheduling first show a confirmation page
    # (how many subscribers will be mailed) that posts to ``workflow_view``; so does a correction (revise).
    WORKFLOW_FIELD = "_workflow"
    CONFIRM_FIRST = ("publish", "schedule")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/workflow/<str:action>/", view(self.workflow_view), name="issues_issue_workflow"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        issue = self.get_object(request, object_id)
        if issue is not None:
            extra_context = {**(extra_context or {}), **self._workflow_context(request, issue)}
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "POST" and request.POST.get(self.WORKFLOW_FIELD) and response.status_code == 200:
            # The form did not save (its errors are shown below it): the step was not taken either.
            self.message_user(request, _("Nothing was done: correct the errors below first."), messages.ERROR)
        return response

    def _workflow_context(self, request, issue):
        actions = allowed_actions(issue, request.user)
        editable = issue.status in EDITABLE_STATUSES and request.user.has_perm("issues.change_issue")
        return {
            "workflow_actions": [(name, TRANSITIONS[name].label) for name in actions],
            "confirm_first": self.CONFIRM_FIRST,
            "can_assemble": editable,
            "can_revise": issue.is_published and request.user.has_perm("issues.publish_issue"),
            "self_approval_refused": issue.status == IssueStatus.IN_REVIEW
            and request.user.has_perm("issues.approve_issue")
            and self_approval_refused(issue, request.user),
            "content_locked": not issue.is_content_editable,
            "now_in_shanghai": datetime.datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
            "preview_urls": [
                (label, reverse("issues:preview", args=[issue.pk, rendition]))
                for label, rendition in ((_("web page"), "html"), ("PDF", "pdf"), (_("text"), "text"), ("JSON", "json"))
            ],
        }

    def response_change(self, request, obj):
        """After the change form saved: take the workflow step its button asked for, if any."""
        action = request.POST.get(self.WORKFLOW_FIELD)
        if not action:
            return super().response_change(request, obj)
        if action == "regenerate_intro" and intro_is_hand_written(obj):
            # 重新起草导读 would overwrite what an editor wrote: ask first (the form is saved already).
            return HttpResponseRedirect(reverse("admin:issues_issue_workflow", args=[obj.pk, action]))
        if action in self.CONFIRM_FIRST:
            return HttpResponseRedirect(
                reverse("admin:subscribers_delivery_confirm_publication", args=[obj.pk, action])
            )
        return self._step_and_back(request, obj, action)

    def workflow_view(self, request, pk, action):
        issue = get_object_or_404(Issue, pk=pk)
        if request.method == "GET" and action == "regenerate_intro":
            return self._confirm_regenerate(request, issue)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action == "regenerate_intro" and not request.POST.get("confirmed") and intro_is_hand_written(issue):
            return self._confirm_regenerate(request, issue)
        return self._step_and_back(request, issue, action)

    def _confirm_regenerate(self, request, issue):
        if not request.user.has_perm("issues.change_issue"):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "issue": issue,
            "title": _("Draft the introduction again?"),
            "issue_url": reverse("admin:issues_issue_change", args=[issue.pk]),
            "workflow_url": reverse("admin:issues_issue_workflow", args=[issue.pk, "regenerate_intro"]),
        }
        return TemplateResponse(request, "admin/issues/issue/confirm_regenerate_intro.html", context)

    def _step_and_back(self, request, issue, action):
        try:
            message = self._take_step(request, issue, action)
        except (PermissionDenied, WorkflowError, AssemblyError) as error:
            self.message_user(request, str(error) or _("You may not do this."), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:issues_issue_change", args=[issue.pk]))

    def _take_step(self, request, issue, action):
        comment = request.POST.get("workflow_comment", request.POST.get("comment", ""))
        if action == "assemble":
            added = issue_assemble(issue=issue, by=request.user)
            return _("%(count)d ready entries of the month were added.") % {"count": added}
        if action == "regenerate_intro":
            issue_regenerate_intro(issue=issue, by=request.user)
            return _("The introduction was drafted again from the issue's content.")
        if action == "revise":
            revision = issue_revise(issue=issue, by=request.user, reason=comment)
            return _("Revision %(number)d is now what readers see.") % {"number": revision.number}
        if action not in TRANSITIONS:
            raise WorkflowError(_("Unknown action."))
        publish_at = None
        if action == "schedule":
            publish_at = _parse_shanghai_time(request.POST.get("publish_at", ""))
        issue, changed = issue_transition(
            issue=issue, action=action, by=request.user, comment=comment, publish_at=publish_at
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
    list_display = ["issue", "number", "reason_text", "created_by", "created_at"]
    list_filter = ["issue__series"]
    readonly_fields = ["issue", "number", "content", "reason_text", "created_by", "created_at"]
    fields = readonly_fields

    @admin.display(description=gettext_lazy("content"))
    def content(self, revision):
        """The frozen JSON (docs/issue-json.md) as code: its keys are the format's, not words to translate."""
        return format_html('<pre class="dgd-json">{}</pre>', json.dumps(revision.data, ensure_ascii=False, indent=2))

    @admin.display(description=gettext_lazy("reason"), ordering="reason")
    def reason_text(self, revision):
        return reason_display(revision.reason)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NoticeChangeList(ChangeList):
    """The workflow mails' list: the page's issues loaded in one query, not one per row."""

    def get_results(self, request):
        super().get_results(request)
        IssueNotice.load_issues(self.result_list)


@admin.register(IssueNotice)
class IssueNoticeAdmin(admin.ModelAdmin):
    """Workflow mails as the mail engine holds them: who was told what, when, and whether the relay took it."""

    list_display = ["issue_text", "kind_text", "email", "status", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["email"]
    fields = readonly_fields = [
        "issue_text",
        "event_text",
        "kind_text",
        "email",
        "status",
        "error",
        "created_at",
        "sent_at",
    ]
    actions = ["send_again"]

    def get_changelist(self, request, **kwargs):
        return NoticeChangeList

    @admin.display(description=gettext_lazy("issue"))
    def issue_text(self, notice):
        return notice.issue

    @admin.display(description=gettext_lazy("step"))
    def event_text(self, notice):
        return notice.event

    @admin.display(description=gettext_lazy("kind"))
    def kind_text(self, notice):
        return notice.get_kind_display()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Send the failed mails again"), permissions=["change"])
    def send_again(self, request, queryset):
        notices = notices_send(notice_ids=list(queryset.values_list("pk", flat=True)), by=request.user)
        sent = sum(1 for notice in notices if notice.status == DeliveryStatus.SENT)
        self.message_user(request, _("%(count)d mails sent.") % {"count": sent})
