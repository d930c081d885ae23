"""Writes to the catalogue. Views, admin actions, commands and tasks call these, never the ORM directly."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from policies.models import Entry, Status, Theme


def theme_suggestions(*, text):
    """Themes whose keyword rules match ``text``."""
    return Theme.objects.all().suggested_for(text)


def entry_suggestion_text(entry):
    """The text keyword rules look at: the title, the issuer and the summary (not an analysis's long body)."""
    return "\n".join([entry.title, entry.issuer, entry.summary])


@transaction.atomic
def entry_apply_suggested_themes(*, entry):
    """Add the suggested themes to an entry's themes; staff then confirm or remove them."""
    suggested = theme_suggestions(text=entry_suggestion_text(entry))
    missing = [theme for theme in suggested if theme not in set(entry.themes.all())]
    if missing:
        entry.themes.add(*missing)
    return missing


def entry_mark_ready(*, entries, by):
    """Mark draft entries ready, so sales see them and the editor can assemble them into an issue."""
    if not by.has_perm("policies.mark_ready"):
        raise PermissionDenied(_("You may not mark entries ready."))
    count = 0
    with transaction.atomic():
        for entry in Entry.objects.filter(pk__in=[e.pk for e in entries], status=Status.DRAFT).select_for_update():
            entry.status = Status.READY
            entry._change_reason = "marked ready"
            entry.save(update_fields=["status", "updated_at"])
            count += 1
    return count
