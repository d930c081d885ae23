from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from issues.models import Issue
from issues.workflow import TRANSITIONS, allowed_actions
from policies.safety import SpreadsheetWriter
from subscribers import services
from subscribers.forms import CsvImportForm
from subscribers.models import SOURCE_LABELS, Delivery, DeliveryStatus, Subscriber
from subscribers.selectors import delivery_counts, delivery_progress, subscribers_for_export


class SourceFilter(admin.SimpleListFilter):
    """The sources present, in words (网页订阅, 演示数据) rather than their stored values."""

    title = gettext_lazy("source")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        sources = Subscriber.objects.order_by("source").values_list("source", flat=True).distinct()
        return [(source, SOURCE_LABELS.get(source, source)) for source in sources]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "organisation", "status", "scope", "source_label", "confirmed_at", "created_at"]
    list_filter = ["status", "scope", SourceFilter, "provinces", "themes"]
    search_fields = ["email", "name", "organisation"]
    filter_horizontal = ["provinces", "themes"]
    readonly_fields = [
        "consent_at",
        "consent_notice_version",
        "confirmed_at",
        "unsubscribed_at",
        "preferences_requested_at",
        "created_at",
        "updated_at",
    ]
    actions = ["export_csv"]
    change_list_template = "admin/subscribers/subscriber/change_list.html"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and {"provinces", "themes", "scope", "status"} & set(form.changed_data):
            # a newer change than any confirmation link mailed before it: those links no longer apply
            services.subscriber_preferences_changed(subscriber=form.instance)

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_csv), name="subscribers_subscriber_import"),
            *super().get_urls(),
        ]

    @admin.action(description=gettext_lazy("Export the selected subscribers (CSV)"), permissions=["view"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="subscribers.csv"'
        response.write("\ufeff")  # Excel opens UTF-8 CSV correctly with a BOM
        writer = SpreadsheetWriter(response)  # no name or organisation reaches Excel as a formula
        writer.writerow([*services.CSV_COLUMNS, "status", "source", "consent_at", "confirmed_at"])
        for s in subscribers_for_export(queryset):
            writer.writerow(
                [
                    s.email,
                    s.name,
                    s.organisation,
                    ";".join(str(r.code) for r in s.provinces.all()),
                    ";".join(t.slug for t in s.themes.all()),
                    s.scope,
                    s.status,
                    s.source,
                    s.consent_at.isoformat() if s.consent_at else "",
                    s.confirmed_at.isoformat() if s.confirmed_at else "",
                ]
            )
        return response

    def import_csv(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CsvImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            result = services.subscribers_import_csv(
                data=form.cleaned_data["file"].read(),
                consented=form.cleaned_data["consented"],
                source=form.cleaned_data["source"],
                by=request.user,
            )
            if result.errors:
                for error in result.errors[:20]:
                    messages.error(request, error)
            else:
                messages.success(
                    request,
                    _("%(created)d subscribers imported, %(existing)d already known.")
                    % {"created": result.created, "existing": result.existing},
                )
                return redirect("admin:subscribers_subscriber_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.model._meta,
            "title": _("Import subscribers"),
        }
        return render(request, "admin/subscribers/subscriber/import.html", context)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["issue", "subscriber", "status", "attempts", "error", "sent_at"]
    list_filter = ["status", "issue"]
    search_fields = ["subscriber__email"]
    list_select_related = ["issue__series", "subscriber"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["retry_failed"]
    change_list_template = "admin/subscribers/delivery/change_list.html"

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path(
                "report/<int:issue_id>/",
                self.admin_site.admin_view(self.report),
                name="subscribers_delivery_report",
            ),
            path(
                "progress/<int:issue_id>/",
                self.admin_site.admin_view(self.progress),
                name="subscribers_delivery_progress",
            ),
            path(
                "publish/<int:issue_id>/<str:action>/",
                self.admin_site.admin_view(self.confirm_publication),
                name="subscribers_delivery_confirm_publication",
            ),
            *super().get_urls(),
        ]

    @admin.action(description=gettext_lazy("Retry the selected failed deliveries"), permissions=["change"])
    def retry_failed(self, request, queryset):
        count = 0
        for issue_id in queryset.filter(status=DeliveryStatus.FAILED).values_list("issue_id", flat=True).distinct():
            ids = list(queryset.filter(issue_id=issue_id).values_list("pk", flat=True))
            count += services.deliveries_retry_failed(issue_id=issue_id, delivery_ids=ids)
        self.message_user(request, _("%(count)d deliveries queued again.") % {"count": count})

    def report(self, request, issue_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        issue = get_object_or_404(Issue.objects.select_related("series"), pk=issue_id)
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            count = services.deliveries_retry_failed(issue_id=issue.pk)
            messages.success(request, _("%(count)d deliveries queued again.") % {"count": count})
            return redirect("admin:subscribers_delivery_report", issue_id=issue.pk)
        failed = Delivery.objects.filter(issue=issue, status=DeliveryStatus.FAILED).select_related("subscriber")[:500]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Delivery report: %(issue)s") % {"issue": issue},
            "issue": issue,
            "counts": delivery_counts(issue_id=issue.pk),
            "failed": failed,
            "can_retry": self.has_change_permission(request),
        }
        return render(request, "admin/subscribers/delivery/report.html", context)

    def progress(self, request, issue_id):
        """An issue's digests as JSON, for the live progress on its admin page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return JsonResponse(delivery_progress(issue_id=issue_id))

    def confirm_publication(self, request, issue_id, action):
        """Before "publish now" or "schedule": who will be mailed. The page's form posts to the issue's workflow
        step, which publishes (or schedules) as it always did."""
        if action not in ("publish", "schedule"):
            raise Http404
        issue = get_object_or_404(Issue.objects.select_related("series"), pk=issue_id)
        preview = services.fanout_confirmation(issue=issue, by=request.user)
        issue_url = reverse("admin:issues_issue_change", args=[issue.pk])
        if action not in allowed_actions(issue, request.user):
            messages.error(
                request,
                _("“%(action)s” is not possible for an issue that is %(status)s.")
                % {"action": TRANSITIONS[action].label, "status": issue.get_status_display()},
            )
            return redirect(issue_url)
        title = _("Publish %(issue)s now?") if action == "publish" else _("Schedule %(issue)s?")
        context = {
            **self.admin_site.each_context(request),
            "opts": Issue._meta,
            "title": title % {"issue": issue},
            "issue": issue,
            "action": action,
            "label": TRANSITIONS[action].label,
            "preview": preview,
            "publish_at": request.GET.get("publish_at", ""),
            "workflow_url": reverse("admin:issues_issue_workflow", args=[issue.pk, action]),
            "issue_url": issue_url,
        }
        return render(request, "admin/issues/issue/confirm_publication.html", context)

    def changelist_view(self, request, extra_context=None):
        issues = Issue.objects.filter(deliveries__isnull=False).distinct().select_related("series")[:12]
        return super().changelist_view(request, {**(extra_context or {}), "delivery_issues": issues})
