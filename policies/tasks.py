"""Celery tasks of the catalogue: they take ids, re-fetch and call a service."""

from celery import shared_task

from policies import imports


# A job is claimed by a status update (pending → checking, queued → importing), so a task delivered twice
# does nothing the second time.
@shared_task(ignore_result=True)
def check_import_job(job_id):
    imports.import_job_check(job_id=job_id)


@shared_task(ignore_result=True)
def run_import_job(job_id):
    imports.import_job_run(job_id=job_id)
