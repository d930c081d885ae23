"""Hostile and large uploads to the catalogue's spreadsheet import: refused with a clear message, or checked
and imported as a job (in a Celery task for a large file) whose progress and row errors the admin shows."""

import io
import zipfile

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dgd.celery import app as celery_app
from policies import imports
from policies.models import Entry, ImportJob, ImportJobStatus, Policy
from policies.resources import PolicyResource
from tests.factories import EntryFactory, UserFactory
from tests.policies.test_resources import POLICY_HEADERS, policy_row

pytestmark = [pytest.mark.django_db]

IMPORT_URL = reverse("admin:policies_policy_import")


@pytest.fixture
def researcher_client(client, researcher):
    client.force_login(researcher)
    return client


def csv_bytes(*rows, headers=POLICY_HEADERS, encoding="utf-8"):
    lines = [",".join(headers)] + [",".join(f'"{cell}"' for cell in row) for row in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(*rows, headers=POLICY_HEADERS):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bomb(unpacked=20 * 1024 * 1024):
    """A small .xlsx whose sheet declares (and holds) ``unpacked`` bytes of one repeated character."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx_bytes(policy_row()))) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb,
    ):
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"</sheetData><!--" + b"x" * unpacked + b"-->")
            bomb.writestr(member.filename, data)
    return buffer.getvalue()


def upload(client, name, content):
    return client.post(IMPORT_URL, {"import_file": SimpleUploadedFile(name, content)})


def job_of(response):
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportJob.objects.get(pk=response["Location"].rstrip("/").split("/")[-2])


# -- refused at the upload: nothing stored, nothing written -------------------------------------------------


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it(researcher_client):
    content = zip_bomb()
    assert len(content) < 200 * 1024  # small on the wire, 20 MB unpacked
    response = upload(researcher_client, "政策.xlsx", content)
    assert response.status_code == 200
    errors = response.context["form"].errors["import_file"]
    assert any("zip 炸弹" in error for error in errors), errors
    assert not ImportJob.objects.exists()
    assert not Entry.objects.exists()


def test_an_xlsx_that_unpacks_to_more_than_the_limit_is_refused(settings):
    settings.DGD_IMPORT_MAX_UNPACKED_SIZE = 2 * 1024 * 1024
    settings.DGD_IMPORT_MAX_COMPRESSION_RATIO = 10_000  # the total alone refuses it
    with pytest.raises(imports.ImportRefused, match="解压后"):
        imports.xlsx_check_zip(io.BytesIO(zip_bomb(unpacked=3 * 1024 * 1024)))
    imports.xlsx_check_zip(io.BytesIO(xlsx_bytes(policy_row())))  # an ordinary file passes


def test_a_file_over_the_size_limit_is_refused_with_a_chinese_message(researcher_client, settings):
    settings.DGD_IMPORT_MAX_FILE_SIZE = 2000
    content = csv_bytes(*[policy_row(标题=f"政策{i}") for i in range(20)])
    assert len(content) > 2000
    response = upload(researcher_client, "政策.csv", content)
    assert response.status_code == 200
    assert any("文件过大" in error for error in response.context["form"].errors["import_file"])
    assert not ImportJob.objects.exists()


def test_a_request_body_over_the_request_limit_is_refused_unread(researcher_client, settings):
    settings.DGD_MAX_REQUEST_SIZE = 1000
    response = upload(researcher_client, "政策.csv", csv_bytes(*[policy_row() for _ in range(20)]))
    assert response.status_code == 413
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(("name", "content"), [("政策.txt", b"a,b\n"), ("政策.xlsx", b"not a zip at all")])
def test_other_files_are_refused(researcher_client, name, content):
    response = upload(researcher_client, name, content)
    assert response.status_code == 200
    assert response.context["form"].errors["import_file"]
    assert not ImportJob.objects.exists()


# -- checked as a job: every row error shown, nothing written -----------------------------------------------


def test_formula_cells_are_reported_by_row_and_column_not_emptied(researcher_client):
    content = xlsx_bytes(
        policy_row(标题="一条好的政策"),
        policy_row(标题="=1+1"),
        policy_row(摘要='=HYPERLINK("http://evil.example/","点此")'),
    )
    job = job_of(upload(researcher_client, "政策.xlsx", content))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID
    assert any(error.startswith("第3行 B列（标题）：公式不被接受") for error in job.errors), job.errors
    assert any(error.startswith("第4行 J列（摘要）：公式不被接受") for error in job.errors), job.errors
    assert not Entry.objects.exists()
    page = researcher_client.get(reverse("admin:policies_importjob_change", args=[job.pk])).content.decode()
    assert "公式不被接受" in page and 'id="import-confirm"' not in page


def test_a_formula_looking_csv_cell_is_reported_too(researcher_client):
    job = job_of(upload(researcher_client, "政策.csv", csv_bytes(policy_row(发文机关="=cmd|' /C calc'!A0"))))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID
    assert job.errors[0].startswith("第2行 C列（发文机关）：公式不被接受")


def test_a_non_utf8_csv_is_refused_with_a_chinese_message(researcher_client):
    job = job_of(upload(researcher_client, "政策.csv", csv_bytes(policy_row(), encoding="gb18030")))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID
    assert "UTF-8" in job.errors[0] and "CSV" in job.errors[0]
    assert not job.file  # the refused file is not kept
    assert not Entry.objects.exists()


def test_row_errors_are_shown_before_anything_is_written(researcher_client):
    rows = [policy_row(), policy_row(地区="火星"), policy_row(日期="2022-02-30")]
    job = job_of(upload(researcher_client, "政策.csv", csv_bytes(*rows)))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID
    assert (job.rows_total, job.rows_done) == (3, 3)
    assert any(error.startswith("第3行：") and "火星" in error for error in job.errors), job.errors
    assert any(error.startswith("第4行：") and "2022-02-30" in error for error in job.errors), job.errors
    assert not Entry.objects.exists()
    with pytest.raises(PermissionDenied):
        imports.import_job_confirm(job_id=job.pk, by=job.user)


def test_a_small_file_is_checked_then_imported_on_confirmation(researcher_client, researcher):
    rows = [policy_row(), policy_row(标题="川渝通办事项清单", 地区="四川、重庆")]
    job = job_of(upload(researcher_client, "政策.csv", csv_bytes(*rows)))
    page = researcher_client.get(reverse("admin:policies_importjob_change", args=[job.pk])).content.decode()
    job.refresh_from_db()
    assert job.status == ImportJobStatus.READY, job.errors
    assert (job.user, job.kind, job.file_name, job.rows_total) == (researcher, "policies.Policy", "政策.csv", 2)
    assert job.result["new"] == 2
    assert 'id="import-confirm"' in page and 'http-equiv="refresh"' not in page
    assert not Entry.objects.exists()

    other = UserFactory(role="researcher")  # only the one who uploaded confirms
    researcher_client.force_login(other)
    assert researcher_client.post(reverse("admin:policies_importjob_confirm", args=[job.pk])).status_code == 403
    assert researcher_client.get(reverse("admin:policies_importjob_change", args=[job.pk])).status_code == 404
    researcher_client.force_login(researcher)

    response = researcher_client.post(reverse("admin:policies_importjob_confirm", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE
    assert (job.rows_done, job.result["new"]) == (2, 2)
    titles = {"关于推进政务服务“跨省通办”的实施意见", "川渝通办事项清单"}
    assert set(Policy.objects.values_list("title", flat=True)) == titles
    assert not job.file
    # a second confirmation (a double click) imports nothing more
    assert researcher_client.post(reverse("admin:policies_importjob_confirm", args=[job.pk])).status_code == 403
    assert Policy.objects.count() == 2


def test_a_large_csv_is_checked_and_imported_by_the_task_with_progress(
    researcher_client, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.DGD_IMPORT_INLINE_MAX_SIZE = 1024  # anything larger goes to the task
    settings.DGD_IMPORT_CHUNK_ROWS = 10
    count = 25  # three chunks
    content = csv_bytes(*[policy_row(标题=f"第{i}号政策", 文号=f"苏政发〔2022〕{i}号") for i in range(count)])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_of(upload(researcher_client, "大文件.csv", content))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.PENDING  # handed over, not checked within the request
    page = researcher_client.get(reverse("admin:policies_importjob_change", args=[job.pk])).content.decode()
    assert 'http-equiv="refresh"' in page
    assert len(callbacks) == 1
    callbacks[0]()  # the transaction commits: the task runs (eagerly)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.READY, job.errors
    assert (job.rows_total, job.rows_done, job.result["new"]) == (count, count, count)
    assert not Entry.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = researcher_client.post(reverse("admin:policies_importjob_confirm", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE, job.errors
    assert job.rows_done == count
    assert Policy.objects.count() == count


def test_a_csv_of_too_many_rows_is_refused_by_the_task_before_any_row_is_tried(
    researcher_client, settings, eager_celery, django_capture_on_commit_callbacks
):
    limit = settings.DGD_IMPORT_MAX_ROWS  # the default: 50,000
    content = ("标题,日期\n" + "".join(f"政策{i},2022-08-01\n" for i in range(limit + 1))).encode()
    assert settings.DGD_IMPORT_INLINE_MAX_SIZE < len(content) < settings.DGD_IMPORT_MAX_FILE_SIZE
    with django_capture_on_commit_callbacks(execute=True):
        job = job_of(upload(researcher_client, "三万行以上.csv", content))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID
    assert job.errors == [f"文件超过 {limit} 行：请分批导入。"]
    assert job.rows_done == 0 and not Entry.objects.exists()


def test_a_large_csv_over_the_size_limit_is_refused_at_the_upload(researcher_client, settings):
    settings.DGD_MAX_REQUEST_SIZE = None  # the form's own check, not the request's
    row = ",".join(policy_row()) + "\n"
    content = (
        ",".join(POLICY_HEADERS) + "\n" + row * (settings.DGD_IMPORT_MAX_FILE_SIZE // len(row.encode()) + 1)
    ).encode()
    response = upload(researcher_client, "政策.csv", content)
    assert response.status_code == 200
    assert any("文件过大" in error for error in response.context["form"].errors["import_file"])
    assert not ImportJob.objects.exists()


# -- permissions are the service's ---------------------------------------------------------------------------


def test_the_service_refuses_a_user_without_the_add_permission(sales):
    uploaded = SimpleUploadedFile("政策.csv", csv_bytes(policy_row()))
    with pytest.raises(PermissionDenied):
        imports.import_job_create(user=sales, resource_class=PolicyResource, uploaded=uploaded)
    assert not ImportJob.objects.exists()


def test_a_permission_withdrawn_before_the_check_refuses_the_job(researcher):
    uploaded = SimpleUploadedFile("政策.csv", csv_bytes(policy_row()))
    job = imports.import_job_create(user=researcher, resource_class=PolicyResource, uploaded=uploaded)
    researcher.groups.clear()
    imports.import_job_check(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID
    assert not Entry.objects.exists()


def test_changing_existing_entries_needs_the_change_permission():
    policy = EntryFactory(title="原标题")
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["add_policy", "view_policy"]))
    uploaded = SimpleUploadedFile("政策.csv", csv_bytes(policy_row(编号=policy.pk, 标题="改过的标题")))
    job = imports.import_job_create(user=user, resource_class=PolicyResource, uploaded=uploaded)
    imports.import_job_check(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID
    assert "编号" in job.errors[0]
    assert Entry.objects.get(pk=policy.pk).title == "原标题"


def test_the_job_list_shows_each_user_their_own_jobs(researcher_client, researcher):
    job_of(upload(researcher_client, "我的.csv", csv_bytes(policy_row())))
    other = UserFactory(role="researcher")
    imports.import_job_create(
        user=other, resource_class=PolicyResource, uploaded=SimpleUploadedFile("别人的.csv", csv_bytes(policy_row()))
    )
    page = researcher_client.get(reverse("admin:policies_importjob_changelist")).content.decode()
    assert "我的.csv" in page and "别人的.csv" not in page


# -- the imports queue, its time limit, and csv's own messages ---------------------------------------------------


def test_import_tasks_run_on_their_own_queue_within_a_time_limit(settings):
    from policies.tasks import check_import_job, run_import_job
    from subscribers import tasks as delivery_tasks

    router = celery_app.amqp.router
    for task in (check_import_job, run_import_job):
        assert router.route({}, task.name)["queue"].name == "imports"
        assert task.soft_time_limit == settings.IMPORTS_TASK_SOFT_TIME_LIMIT >= 3600
        assert task.time_limit > task.soft_time_limit
    delivery = [t for t in vars(delivery_tasks).values() if hasattr(t, "apply_async") and hasattr(t, "name")]
    assert delivery and all(router.route({}, t.name)["queue"].name == "celery" for t in delivery)


def test_every_worker_we_start_consumes_the_imports_queue():
    from django.conf import settings

    base = settings.BASE_DIR
    assert "worker -Q celery,imports" in (base / "scripts" / "run.sh").read_text()
    assert '"worker", "-Q", "celery,imports"' in (base / "docker-compose.yml").read_text()


def test_a_check_that_runs_out_of_time_ends_the_job_with_a_chinese_message(researcher, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from policies.tasks import check_import_job

    uploaded = SimpleUploadedFile("政策.csv", csv_bytes(policy_row()))
    job = imports.import_job_create(user=researcher, resource_class=PolicyResource, uploaded=uploaded)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJobStatus.PENDING)

    def slow(*, job_id):
        ImportJob.objects.filter(pk=job_id).update(status=ImportJobStatus.CHECKING)
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(imports, "import_job_check", slow)
    check_import_job.run(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID
    assert "时间" in job.errors[0] and job.finished_at


def test_a_cell_over_csvs_default_limit_is_read_and_one_over_the_file_limit_is_refused_in_chinese(settings):
    long_body = "政" * 200_000  # csv's own default limit is 131,072 characters
    data = csv_bytes(policy_row(), policy_row(标题=long_body))
    assert imports.read_csv(data).height == 2
    settings.DGD_IMPORT_MAX_FILE_SIZE = 100_000
    with pytest.raises(imports.ImportRefused) as refused:
        imports.read_csv(data)
    message = refused.value.messages[0]
    assert "第3行" in message or "3" in message
    assert "field limit" not in message and "单元格" in message
