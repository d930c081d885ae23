"""Celery tasks of the catalogue: they take ids, re-fetch and call a service."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override

from policies import imports
from policies.models import ImportJob, ImportJobStatus

# Both run on the queue ``imports`` (``CELERY_TASK_ROUTES``), away from digest mail, within a time limit.
LIMITS = {"soft_time_limit": settings.IMPORTS_TASK_SOFT_TIME_LIMIT, "time_limit": settings.IMPORTS_TASK_TIME_LIMIT}
TIMED_OUT = gettext_noop("The file took longer than the time limit to check; nothing was imported.")


# A job is claimed by a status update (pending → checking, queued → importing), so a task delivered twice
# does nothing the second time.
@shared_task(ignore_result=True, **LIMITS)
def check_import_job(job_id):
    try:
        imports.import_job_check(job_id=job_id)
    except SoftTimeLimitExceeded:
        import_job_timed_out(job_id=job_id, status=ImportJobStatus.CHECKING, end=ImportJobStatus.INVALID)


@shared_task(ignore_result=True, **LIMITS)
def run_import_job(job_id):
    # ``import_job_run`` ends the job FAILED on any error, the soft time limit included (its transaction undone).
    try:
        imports.import_job_run(job_id=job_id)
    except SoftTimeLimitExceeded:
        import_job_timed_out(job_id=job_id, status=ImportJobStatus.IMPORTING, end=ImportJobStatus.FAILED)


def import_job_timed_out(*, job_id, status, end):
    """A job still ``status`` when its task ran out of time ends ``end``, saying so (not stuck for ever)."""
    job = ImportJob.objects.filter(pk=job_id, status=status).first()
    if job is None:
        return
    with override(job.language or settings.LANGUAGE_CODE):
        message = _(TIMED_OUT)
    ImportJob.objects.filter(pk=job_id, status=status).update(
        status=end, errors=[message], finished_at=timezone.now(), updated_at=timezone.now()
    )
