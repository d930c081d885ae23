"""Spreadsheet imports of catalogue entries as jobs: checked, shown, confirmed, imported.

An upload (``import_job_create``) is refused at once if the file is too large, not an .xlsx or .csv, or an
.xlsx whose zip declares more unpacked bytes, or a higher compression ratio, than a spreadsheet ever needs
(a zip bomb; ``zipfile`` also stops at the declared size, so a member cannot unpack to more than it declares).
Otherwise it is stored as an ``ImportJob``, and ``import_job_check`` reads it (a formula cell, a
non-UTF-8 CSV or too many rows refuse the file) and runs the resource's dry run in chunks, counting rows
as it goes: nothing is written, and every row's errors are kept on the job. The user sees them, and
confirms (``import_job_confirm``); ``import_job_run`` then imports the whole file in one transaction, so a
file is imported whole or not at all. Small files are checked and imported within the request; larger
ones by ``policies.tasks`` while the admin page refreshes with the job's progress.

The user's add permission on the sheet's model (and change permission, if a row names an existing entry
by its 编号) is checked here, when the job is created and again when it runs, not only by the admin.
"""

import csv
import io
import logging
import os
import zipfile

import tablib
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import connection, connections, transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from policies.models import ImportJob, ImportJobStatus
from policies.resources import EntryResource

logger = logging.getLogger(__name__)

FORMATS = ("xlsx", "csv")
MAX_ERRORS = 500  # messages kept on a job
MAX_ZIP_MEMBERS = 1000
RATIO_MIN_SIZE = 1024 * 1024  # a member smaller than this unpacked is harmless at any ratio
MAX_COLUMNS = 100
FORMULA_STARTS = ("=",)  # a text cell starting so is a formula to a spreadsheet


class ImportRefused(ValidationError):
    """The whole file is refused; the messages are for the user."""


def megabytes(size):
    return f"{size / (1024 * 1024):.1f} MB"


# --- the file -----------------------------------------------------------------------------------------------


def import_file_format(name):
    """``xlsx`` or ``csv`` from a file's name; anything else is refused."""
    extension = os.path.splitext(name or "")[1].lower().lstrip(".")
    if extension not in FORMATS:
        raise ImportRefused(_("Only .xlsx and .csv files can be imported."), code="format")
    return extension


def import_file_check_size(size):
    limit = settings.DGD_IMPORT_MAX_FILE_SIZE
    if size > limit:
        raise ImportRefused(
            _("The file is too large (%(size)s): at most %(limit)s can be imported.")
            % {"size": megabytes(size), "limit": megabytes(limit)},
            code="too_large",
        )


def xlsx_check_zip(fileobj):
    """Refuse an .xlsx (a zip) that is not one, or that would unpack to too much: read from the zip's central
    directory only, before openpyxl (or anything) decompresses a byte."""
    try:
        with zipfile.ZipFile(fileobj) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ImportRefused(_("This is not a valid .xlsx file."), code="not_xlsx") from None
    finally:
        if hasattr(fileobj, "seek"):
            fileobj.seek(0)
    if not members or len(members) > MAX_ZIP_MEMBERS:
        raise ImportRefused(_("This is not a valid .xlsx file."), code="not_xlsx")
    total = sum(member.file_size for member in members)
    limit = settings.DGD_IMPORT_MAX_UNPACKED_SIZE
    if total > limit:
        raise ImportRefused(
            _("The .xlsx file would unpack to %(size)s, more than the %(limit)s allowed: it is refused.")
            % {"size": megabytes(total), "limit": megabytes(limit)},
            code="zip_bomb",
        )
    ratio_limit = settings.DGD_IMPORT_MAX_COMPRESSION_RATIO
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_MIN_SIZE and ratio > ratio_limit:
            raise ImportRefused(
                _(
                    "The .xlsx file is compressed %(ratio)d times (at most %(limit)d is accepted): it is refused "
                    "as a zip bomb."
                )
                % {"ratio": ratio, "limit": ratio_limit},
                code="zip_bomb",
            )


def import_file_check(uploaded):
    """Check an uploaded file before it is stored: its format, size and, for an .xlsx, its zip. Returns the
    format. The import form calls it, and ``import_job_create`` again."""
    file_format = import_file_format(uploaded.name)
    import_file_check_size(uploaded.size)
    if file_format == "xlsx":
        xlsx_check_zip(uploaded)
    return file_format


def _column_letter(index):
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def _formula_error(row, column, header):
    return _("Row %(row)d, column %(column)s%(header)s: formulas are not accepted; type the value itself.") % {
        "row": row,
        "column": _column_letter(column),
        "header": f"（{header}）" if header else "",
    }


def _looks_like_formula(value):
    return isinstance(value, str) and value.lstrip().startswith(FORMULA_STARTS)


def _check_rows(count):
    limit = settings.DGD_IMPORT_MAX_ROWS
    if count > limit:
        raise ImportRefused(
            _("The file has more than %(limit)d rows: import it in parts.") % {"limit": limit}, code="too_many_rows"
        )


def read_xlsx(fileobj):
    """The first sheet as a ``tablib.Dataset``, or ``ImportRefused`` with one message per formula cell."""
    import openpyxl

    xlsx_check_zip(fileobj)
    try:
        # data_only=False: a formula cell reads as its formula, so it can be named (django-import-export
        # reads the cached value, which a generated file lacks, and so empties the cell without a word).
        # openpyxl parses with the standard library's expat, which limits entity expansion (billion laughs).
        book = openpyxl.load_workbook(fileobj, read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds on a damaged file
        logger.info("unreadable xlsx: %r", error)
        raise ImportRefused(_("This is not a valid .xlsx file."), code="not_xlsx") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise ImportRefused(_("The file is empty."), code="empty")
        rows = sheet.iter_rows(max_col=MAX_COLUMNS)
        header_cells = next(rows, None)
        if not header_cells:
            raise ImportRefused(_("The file is empty."), code="empty")
        headers = [_header(cell.value) for cell in header_cells]
        while headers and not headers[-1]:
            headers.pop()
        width = len(headers)
        dataset = tablib.Dataset(headers=headers)
        formulas = []
        for number, cells in enumerate(rows, start=2):
            values = []
            for column, cell in enumerate(cells[:width], start=1):
                value = cell.value
                if getattr(cell, "data_type", None) == "f" or _looks_like_formula(value):
                    formulas.append(_formula_error(number, column, headers[column - 1]))
                    value = None
                values.append(value)
            if all(value in (None, "") for value in values):
                continue  # a blank line (openpyxl reports formatted empty rows)
            values += [None] * (width - len(values))
            dataset.append(values)
            _check_rows(dataset.height)
    finally:
        book.close()
    if formulas:
        raise ImportRefused(formulas, code="formula")
    return dataset


def _header(value):
    return "" if value is None else str(value).strip()


def csv_field_limit():
    """No cell can be larger than the file (``DGD_IMPORT_MAX_FILE_SIZE``): csv's own default, 128 KB, would
    refuse a long 正文 with an English message. (csv's limit is per process; every import sets it alike.)"""
    csv.field_size_limit(settings.DGD_IMPORT_MAX_FILE_SIZE)


def csv_error_message(error, line):
    """A ``csv.Error`` said in the user's language: csv's own messages are English and technical."""
    if "field larger than field limit" in str(error):
        return _("The CSV file cannot be read (line %(line)d): a cell is larger than %(limit)d characters.") % {
            "line": line,
            "limit": csv.field_size_limit(),
        }
    return _("The CSV file cannot be read (line %(line)d): it is not well-formed CSV.") % {"line": line}


def csv_text(data):
    """A CSV file's bytes as text, ready for ``csv``: UTF-8 (with or without a byte-order mark) and no NUL, or
    ``ImportRefused`` (every CSV import reads its file through this)."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise ImportRefused(
            _("The CSV file is not UTF-8: save it from Excel as “CSV UTF-8 (comma delimited)” and import it again."),
            code="encoding",
        ) from None
    if "\x00" in text:
        raise ImportRefused(_("The file contains a NUL character: it is not a CSV file."), code="nul")
    csv_field_limit()
    return text


def read_csv(data):
    """A UTF-8 CSV (with or without a byte-order mark) as a ``tablib.Dataset``; anything else is refused."""
    text = csv_text(data)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        headers = [_header(value) for value in next(reader, [])][:MAX_COLUMNS]
        if not any(headers):
            raise ImportRefused(_("The file is empty."), code="empty")
        width = len(headers)
        dataset = tablib.Dataset(headers=headers)
        formulas = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            number = reader.line_num
            values = values[:width] + [""] * (width - len(values[:width]))
            for column, value in enumerate(values, start=1):
                if _looks_like_formula(value):
                    formulas.append(_formula_error(number, column, headers[column - 1]))
                    values[column - 1] = ""
            dataset.append(values)
            _check_rows(dataset.height)
    except csv.Error as error:
        raise ImportRefused(csv_error_message(error, reader.line_num), code="csv") from None
    if formulas:
        raise ImportRefused(formulas, code="formula")
    return dataset


def read_dataset(job):
    with job.file.open("rb") as stored:
        if job.file_format == "xlsx":
            return read_xlsx(stored)
        import_file_check_size(job.file.size)
        return read_csv(stored.read())


# --- permissions --------------------------------------------------------------------------------------------


def _resource_class(job):
    resource_class = import_string(job.resource)
    if not (isinstance(resource_class, type) and issubclass(resource_class, EntryResource)):
        raise PermissionDenied(f"{job.resource} is not an entry resource")
    return resource_class


def import_check_permission(*, user, model, dataset=None):
    """The user may add ``model`` (and change it, if a row names an existing entry by its 编号)."""
    opts = model._meta
    if user is None or not user.is_active or not user.has_perm(f"{opts.app_label}.add_{opts.model_name}"):
        raise PermissionDenied(
            _("You may not import %(kind)s.") % {"kind": opts.verbose_name_plural},
        )
    if dataset is not None and "编号" in (dataset.headers or []):
        updates = any(value not in (None, "") for value in dataset["编号"])
        if updates and not user.has_perm(f"{opts.app_label}.change_{opts.model_name}"):
            raise PermissionDenied(
                _("You may not change existing %(kind)s: leave the 编号 column empty.")
                % {"kind": opts.verbose_name_plural}
            )


# --- jobs ---------------------------------------------------------------------------------------------------


def import_job_create(*, user, resource_class, uploaded):
    """Store an uploaded file as a job waiting to be checked. Refuses (``PermissionDenied``,
    ``ImportRefused``) before anything is stored."""
    model = resource_class._meta.model
    import_check_permission(user=user, model=model)
    file_format = import_file_check(uploaded)
    uploaded.seek(0)
    name = os.path.basename(uploaded.name or "")[:200] or f"import.{file_format}"
    job = ImportJob(
        user=user,
        kind=model._meta.label,
        resource=f"{resource_class.__module__}.{resource_class.__qualname__}",
        file_name=name,
        file_format=file_format,
        file_size=uploaded.size,
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    job.file.save(f"import.{file_format}", ContentFile(uploaded.read()), save=False)
    job.save()
    return job


def import_job_runs_inline(job):
    """Whether the admin checks and imports the job within the request (a small file) or hands it to a task."""
    return job.file_size <= settings.DGD_IMPORT_INLINE_MAX_SIZE


def import_job_start(*, job):
    """Check the job now (a small file) or in a Celery task once the transaction commits."""
    if import_job_runs_inline(job):
        import_job_check(job_id=job.pk)
    else:
        from policies.tasks import check_import_job

        transaction.on_commit(lambda: check_import_job.delay(job.pk))


def import_job_confirm(*, job_id, by):
    """The user has seen the checked rows: import them (now for a small file, else in a task)."""
    updated = ImportJob.objects.filter(pk=job_id, user=by, status=ImportJobStatus.READY).update(
        status=ImportJobStatus.QUEUED, rows_done=0, updated_at=timezone.now()
    )
    if not updated:
        raise PermissionDenied(_("This import cannot be confirmed (it is not yours, or not waiting)."))
    job = ImportJob.objects.get(pk=job_id)
    if import_job_runs_inline(job):
        import_job_run(job_id=job.pk)
    else:
        from policies.tasks import run_import_job

        transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return job


def import_job_cancel(*, job_id, by):
    updated = ImportJob.objects.filter(
        pk=job_id, user=by, status__in=[ImportJobStatus.READY, ImportJobStatus.INVALID]
    ).update(status=ImportJobStatus.CANCELLED, finished_at=timezone.now())
    if updated:
        _discard_file(ImportJob.objects.get(pk=job_id))
    return bool(updated)


def _claim(job_id, source, target):
    """Move a job from ``source`` to ``target`` unless another worker already has (tasks may run twice)."""
    return ImportJob.objects.filter(pk=job_id, status=source).update(status=target, updated_at=timezone.now())


def _finish(job, status, *, errors=None, result=None):
    job.status = status
    job.errors = _capped(errors or [])
    if result is not None:
        job.result = result
    job.finished_at = None if status == ImportJobStatus.READY else timezone.now()
    job.save(update_fields=["status", "errors", "result", "finished_at", "rows_total", "rows_done", "updated_at"])
    if status != ImportJobStatus.READY:
        _discard_file(job)  # only a job waiting for confirmation needs its file


def _capped(errors):
    if len(errors) <= MAX_ERRORS:
        return list(errors)
    more = len(errors) - MAX_ERRORS
    return [*errors[:MAX_ERRORS], _("… and %(count)d more.") % {"count": more}]


def _discard_file(job):
    if job.file:
        try:
            job.file.delete(save=False)
        except OSError:
            logger.warning("could not delete %s", job.file.name)
        ImportJob.objects.filter(pk=job.pk).update(file="")


def _chunks(dataset):
    size = max(settings.DGD_IMPORT_CHUNK_ROWS, 1)  # rows per import_data call; the progress is saved after each
    for start in range(0, dataset.height, size):
        chunk = tablib.Dataset(headers=dataset.headers)
        for row in dataset[start : start + size]:
            chunk.append(row)
        yield start, chunk


def _row_messages(result, offset):
    """Each refused row's messages, numbered as the spreadsheet's rows (the header is row 1)."""
    messages = []
    for error in result.base_errors:
        messages.append(str(error.error))
    for row in result.invalid_rows:
        for field_messages in row.error_dict.values():
            for message in field_messages:
                messages.append(_("Row %(row)d: %(message)s") % {"row": offset + row.number + 1, "message": message})
    for number, errors in result.row_errors():
        for error in errors:
            messages.append(
                _("Row %(row)d: %(message)s") % {"row": offset + number + 1, "message": _error_text(error.error)}
            )
    return messages


def _error_text(error):
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


class _Progress:
    """Saves ``rows_done``: directly outside a transaction; inside one (the import), through a second
    connection so the admin sees it before the import commits (PostgreSQL only: SQLite would lock)."""

    def __init__(self, job):
        self.job = job
        self.side = None

    def __call__(self, done):
        self.job.rows_done = done
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job.pk).update(rows_done=done, updated_at=timezone.now())
        elif connection.vendor == "postgresql":
            try:
                if self.side is None:
                    self.side = connections.create_connection("default")
                with self.side.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {ImportJob._meta.db_table} SET rows_done = %s, updated_at = %s WHERE id = %s",
                        [done, timezone.now(), self.job.pk],
                    )
            except Exception:  # progress is a courtesy: never fail the import for it
                logger.exception("import job %s: progress not saved", self.job.pk)

    def close(self):
        if self.side is not None:
            self.side.close()


def import_job_check(*, job_id):
    """Read the job's file and dry-run every row, counting them; the job ends READY or INVALID (with the
    messages). Nothing of the catalogue is written."""
    if not _claim(job_id, ImportJobStatus.PENDING, ImportJobStatus.CHECKING):
        return None
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            resource_class = _resource_class(job)
            dataset = read_dataset(job)
            import_check_permission(user=job.user, model=resource_class._meta.model, dataset=dataset)
        except ImportRefused as refused:
            _finish(job, ImportJobStatus.INVALID, errors=refused.messages)
            return job
        except PermissionDenied as denied:
            _finish(job, ImportJobStatus.INVALID, errors=[str(denied)])
            return job
        if not dataset.height:
            _finish(job, ImportJobStatus.INVALID, errors=[_("The file has no rows to import.")])
            return job
        job.rows_total, job.rows_done = dataset.height, 0
        job.save(update_fields=["rows_total", "rows_done", "updated_at"])
        progress = _Progress(job)
        errors, totals = [], {}
        try:
            for offset, chunk in _chunks(dataset):
                result = resource_class().import_data(chunk, dry_run=True, raise_errors=False)
                errors += _row_messages(result, offset)
                for key, value in result.totals.items():
                    totals[key] = totals.get(key, 0) + value
                progress(offset + chunk.height)
        finally:
            progress.close()
        summary = {key: totals.get(key, 0) for key in ("new", "update", "skip")}
        _finish(job, ImportJobStatus.INVALID if errors else ImportJobStatus.READY, errors=errors, result=summary)
    return job


def import_job_run(*, job_id):
    """Import a confirmed job's file, whole, in one transaction; the job ends DONE or FAILED."""
    if not _claim(job_id, ImportJobStatus.QUEUED, ImportJobStatus.IMPORTING):
        return None
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    progress = _Progress(job)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            resource_class = _resource_class(job)
            dataset = read_dataset(job)
            import_check_permission(user=job.user, model=resource_class._meta.model, dataset=dataset)
            job.rows_total = dataset.height
            totals = {}
            with transaction.atomic():
                for offset, chunk in _chunks(dataset):
                    result = resource_class().import_data(chunk, dry_run=False, raise_errors=False)
                    errors = _row_messages(result, offset)
                    if errors:
                        raise ImportRefused(errors)  # undoes every chunk before
                    for key, value in result.totals.items():
                        totals[key] = totals.get(key, 0) + value
                    progress(offset + chunk.height)
        except ImportRefused as refused:
            _finish(job, ImportJobStatus.FAILED, errors=[_("Nothing was imported."), *refused.messages])
            return job
        except PermissionDenied as denied:
            _finish(job, ImportJobStatus.FAILED, errors=[_("Nothing was imported."), str(denied)])
            return job
        except Exception:
            logger.exception("import job %s failed", job.pk)
            _finish(job, ImportJobStatus.FAILED, errors=[_("Nothing was imported: an unexpected error occurred.")])
            return job
        finally:
            progress.close()
        job.rows_done = dataset.height
        _finish(job, ImportJobStatus.DONE, result={key: totals.get(key, 0) for key in ("new", "update", "skip")})
    return job


def import_jobs_visible_to(user):
    """The jobs a user may see: their own; every job for a superuser."""
    jobs = ImportJob.objects.select_related("user")
    return jobs if user.is_superuser else jobs.filter(user=user)
