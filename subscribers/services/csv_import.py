"""Importing subscribers from a CSV file."""

import csv
import io
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from policies.imports import ImportRefused, csv_error_message, csv_text
from policies.models import Region, RegionKind, Theme
from subscribers.models import (
    Scope,
    Subscriber,
    SubscriberStatus,
)
from subscribers.services.subscriptions import _apply_preferences, _enqueue_subscriber_mail, normalise_email

# --- CSV import -------------------------------------------------------------------------------------

CSV_COLUMNS = ["email", "name", "organisation", "provinces", "themes", "scope"]


@dataclass
class ImportResult:
    created: int = 0
    existing: int = 0
    errors: list = field(default_factory=list)


def _split(value):
    return [part.strip() for part in (value or "").replace("|", ";").replace("，", ";").split(";") if part.strip()]


def subscribers_import_csv(*, data, consented, source, by=None):
    """Import subscribers from CSV (columns: email, name, organisation, provinces, themes, scope; provinces by
    code or short name, several separated by ';'). Known addresses are left as they are. Imported addresses
    confirm by mail unless ``consented`` (they agreed elsewhere: ``source`` says where). Malformed rows are
    reported by line and nothing is written; so is a file that is not UTF-8 text, or has more than
    ``DGD_SUBSCRIBERS_IMPORT_MAX_ROWS`` rows. ``by``, the acting user (the admin), needs the add permission."""
    if by is not None and not by.has_perm("subscribers.add_subscriber"):
        raise PermissionDenied(_("You may not import subscribers."))
    try:
        data = csv_text(data)
    except ImportRefused as refused:
        return ImportResult(errors=list(refused.messages))
    reader = csv.DictReader(io.StringIO(data, newline=""))
    try:
        result = _subscribers_import_rows(reader, consented, source)
    except csv.Error as error:
        return ImportResult(errors=[csv_error_message(error, reader.line_num)])
    return result


def _subscribers_import_rows(reader, consented, source):
    if not reader.fieldnames or "email" not in [f.strip().lower() for f in reader.fieldnames]:
        return ImportResult(errors=[_("Line 1: an “email” column is required.")])
    province_by_name = {}
    for code, short, name in Region.objects.filter(kind=RegionKind.PROVINCE).values_list("code", "short_name", "name"):
        province_by_name.update({str(code): code, short: code, name: code})
    theme_by_name = {}
    for slug, name in Theme.objects.values_list("slug", "name"):
        theme_by_name.update({slug: slug, name: slug})
    rows, result, seen = [], ImportResult(), set()
    limit = settings.DGD_SUBSCRIBERS_IMPORT_MAX_ROWS
    for line, row in enumerate(reader, start=2):
        if line - 1 > limit:
            return ImportResult(
                errors=[_("The file has more than %(limit)d rows: import it in parts.") % {"limit": limit}]
            )
        # DictReader puts surplus cells in a list under the key None.
        row = {(k or "").strip().lower(): v.strip() if isinstance(v, str) else "" for k, v in row.items()}
        too_long = [
            column for column, size in (("name", 100), ("organisation", 200)) if len(row.get(column, "")) > size
        ]
        if too_long:
            result.errors.append(
                _("Line %(line)d: %(column)s is too long.") % {"line": line, "column": "、".join(too_long)}
            )
            continue
        email = normalise_email(row.get("email", ""))
        try:
            validate_email(email)
        except ValidationError:
            result.errors.append(_("Line %(line)d: invalid email «%(email)s».") % {"line": line, "email": email[:100]})
            continue
        unknown = [p for p in _split(row.get("provinces")) if p not in province_by_name]
        unknown += [t for t in _split(row.get("themes")) if t not in theme_by_name]
        if unknown:
            result.errors.append(
                _("Line %(line)d: unknown province or theme %(names)s.") % {"line": line, "names": "、".join(unknown)}
            )
            continue
        scope = row.get("scope") or Scope.WHOLE
        if scope not in Scope.values:
            result.errors.append(
                _("Line %(line)d: scope must be one of %(scopes)s.") % {"line": line, "scopes": ", ".join(Scope.values)}
            )
            continue
        if email in seen:
            continue
        seen.add(email)
        rows.append((email, row, scope))
    if result.errors:
        return result
    now = timezone.now()
    to_confirm = []
    with transaction.atomic():
        known = set(Subscriber.objects.filter(email__in=[r[0] for r in rows]).values_list("email", flat=True))
        for email, row, scope in rows:
            if email in known:
                result.existing += 1
                continue
            subscriber = Subscriber.objects.create(
                email=email,
                name=row.get("name", ""),
                organisation=row.get("organisation", ""),
                scope=scope,
                source=source,
                status=SubscriberStatus.CONFIRMED if consented else SubscriberStatus.PENDING,
                consent_at=now if consented else None,
                confirmed_at=now if consented else None,
            )
            preferences = {
                "scope": scope,
                "provinces": sorted({province_by_name[p] for p in _split(row.get("provinces"))}),
                "themes": sorted({theme_by_name[t] for t in _split(row.get("themes"))}),
            }
            _apply_preferences(subscriber, preferences)
            if not consented:
                to_confirm.append((subscriber.pk, preferences))
            result.created += 1
        for subscriber_id, preferences in to_confirm:
            transaction.on_commit(lambda s=subscriber_id, p=preferences: _enqueue_subscriber_mail(s, p))
    return result
