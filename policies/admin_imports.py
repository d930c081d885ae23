"""The admin side of spreadsheet imports (``policies.imports``): each kind's import page uploads a file as an
``ImportJob``; the job's page shows its progress (refreshing while it runs), every row error, and, once the
file checked clean, a button that imports it."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from policies import imports
from policies.models import ImportJob, ImportJobStatus

REFRESH_SECONDS = 2


class ImportFileForm(forms.Form):
    import_file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("An .xlsx or a UTF-8 .csv file, its first row the column names."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )

    def clean_import_file(self):
        uploaded = self.cleaned_data["import_file"]
        try:
            imports.import_file_check(uploaded)
        except imports.ImportRefused as refused:
            raise forms.ValidationError(refused.messages) from None
        return uploaded


class ImportJobAdminMixin:
    """For an ``ImportExportModelAdmin``: its import page starts an ``ImportJob`` instead of
    django-import-export's own two steps (which read the whole file within the request)."""

    def import_action(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        resource_class = self.get_import_resource_classes(request)[0]
        form = ImportFileForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = imports.import_job_create(
                    user=request.user, resource_class=resource_class, uploaded=form.cleaned_data["import_file"]
                )
            except imports.ImportRefused as refused:
                for message in refused.messages:
                    form.add_error("import_file", message)
            else:
                imports.import_job_start(job=job)
                return redirect("admin:policies_importjob_change", job.pk)
        headers = [field.column_name for field in resource_class().get_import_fields()]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import %(kind)s") % {"kind": self.model._meta.verbose_name_plural},
            "form": form,
            "headers": headers,
            "max_size": imports.megabytes(settings.DGD_IMPORT_MAX_FILE_SIZE),
            "max_rows": settings.DGD_IMPORT_MAX_ROWS,
            "jobs": imports.import_jobs_visible_to(request.user).filter(kind=self.model._meta.label)[:10],
        }
        return TemplateResponse(request, "admin/imports/import.html", context)

    def process_import(self, request, **kwargs):
        # django-import-export's confirmation step: imports are confirmed on the job's page now.
        return redirect(reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_import"))


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["file_name", "kind_label", "user", "status", "progress", "created_at"]
    list_filter = ["status"]
    search_fields = ["file_name"]
    list_select_related = ["user"]

    def get_queryset(self, request):
        return imports.import_jobs_visible_to(request.user)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if not (request.user.is_active and request.user.is_staff):
            return False
        return obj is None or request.user.is_superuser or obj.user_id == request.user.pk

    def has_add_permission(self, request):
        return False  # a job starts from a kind's import page

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("kind"))
    def kind_label(self, job):
        try:
            return job.model._meta.verbose_name_plural
        except LookupError:
            return job.kind

    @admin.display(description=gettext_lazy("rows done"))
    def progress(self, job):
        return f"{job.rows_done} / {job.rows_total}"

    def get_urls(self):
        return [
            path(
                "<int:job_id>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="policies_importjob_confirm",
            ),
            path(
                "<int:job_id>/cancel/", self.admin_site.admin_view(self.cancel_view), name="policies_importjob_cancel"
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = get_object_or_404(self.get_queryset(request), pk=object_id)
        try:
            kind = job.model._meta
        except LookupError:
            kind = None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import: %(name)s") % {"name": job.file_name},
            "job": job,
            "kind": kind,
            "percent": int(100 * job.rows_done / job.rows_total) if job.rows_total else 0,
            "refresh": REFRESH_SECONDS if job.is_running else None,
            "can_confirm": job.status == ImportJobStatus.READY and job.user_id == request.user.pk,
            "import_url": reverse(f"admin:{kind.app_label}_{kind.model_name}_import") if kind else None,
            "changelist_url": reverse(f"admin:{kind.app_label}_{kind.model_name}_changelist") if kind else None,
        }
        return TemplateResponse(request, "admin/imports/job.html", context)

    def confirm_view(self, request, job_id):
        if request.method != "POST":
            return redirect("admin:policies_importjob_change", job_id)
        job = imports.import_job_confirm(job_id=job_id, by=request.user)
        job.refresh_from_db()
        if job.status == ImportJobStatus.DONE:
            messages.success(request, self._done_message(job))
        return redirect("admin:policies_importjob_change", job.pk)

    def cancel_view(self, request, job_id):
        if request.method == "POST":
            imports.import_job_cancel(job_id=job_id, by=request.user)
        return redirect("admin:policies_importjob_change", job_id)

    @staticmethod
    def _done_message(job):
        return format_html(
            "{}",
            _("Imported: %(new)d new, %(update)d updated, %(skip)d unchanged.")
            % {key: job.result.get(key, 0) for key in ("new", "update", "skip")},
        )
