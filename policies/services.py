"""Writes to the catalogue. Views, admin actions, commands and tasks call these, never the ORM directly."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from policies.gazetteer import suggest_regions
from policies.indexing import catalogue_flush
from policies.models import Entry, Region, RegionKind, Status, Theme, guarded_writes
from policies.vocabulary import is_standard_region


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
    return _entries_set_status(entries=entries, by=by, status=Status.READY, reason="marked ready")


def entry_mark_draft(*, entries, by):
    """Take ready entries back to draft: they leave the library (an issue already published keeps them)."""
    return _entries_set_status(entries=entries, by=by, status=Status.DRAFT, reason="marked draft")


def _entries_set_status(*, entries, by, status, reason):
    """The one way an entry's ready state changes: permission checked, each change in the entry's history
    with its reason, the library's index updated with it. Returns the number of entries changed."""
    if not by.has_perm("policies.mark_ready"):
        raise PermissionDenied(_("You may not mark entries ready."))
    count = 0
    with transaction.atomic(), guarded_writes(Entry):
        ids = [e.pk for e in entries]
        for entry in Entry.objects.filter(pk__in=ids).exclude(status=status).order_by("pk").select_for_update():
            entry.status = status
            entry._change_reason = reason
            entry._history_user = by
            # Entry.save sets ready_at now (ready) or clears it (draft): what saved-filter alerts go by.
            entry.save(update_fields=["status", "ready_at", "updated_at"])
            count += 1
        catalogue_flush()
    return count


# --- Regions ----------------------------------------------------------------------------------------


def region_is_standard(*, code, kind):
    """A province or a GB/T 2260 region: an administrator's alone."""
    return kind == RegionKind.PROVINCE or is_standard_region(code)


def region_check(*, by, stored, code, kind, parent):
    """Refuse a region write ``by`` may not make; ``stored`` is the region as it is now (None when adding).

    The provinces and the GB/T 2260 vocabulary are an administrator's alone: the importer, the public pages
    and the library rely on their names and codes. Staff with the permission add and edit cities and
    districts below them, each under a parent of its own province (320583 under 320500 or 320000).
    Raises ``PermissionDenied`` or ``ValidationError`` (messages for the user)."""
    if not by.has_perm("policies.change_region" if stored else "policies.add_region"):
        raise PermissionDenied(_("You may not change regions."))
    if by.is_superuser:
        return
    if stored is not None and region_is_standard(code=stored.code, kind=stored.kind):
        raise PermissionDenied(_("Provinces and the GB/T 2260 regions can only be changed by an administrator."))
    if region_is_standard(code=code, kind=kind):
        raise PermissionDenied(_("Only an administrator may add a province or a GB/T 2260 region."))
    if parent is None:
        raise ValidationError({"parent": _("A city or district belongs to a province or a city: choose it.")})
    if code // 10000 != parent.code // 10000 or code == parent.code:
        raise ValidationError(
            {"code": _("The code %(code)s does not lie within %(parent)s.") % {"code": code, "parent": parent}}
        )


def region_suggestions(*, entry):
    """Regions the entry's title and summary name, most specific first found (policies.gazetteer), with its
    current regions read as context (江苏 + 靖江 → 靖江市); the ones it is tagged with already are left out."""
    tagged = list(entry.regions.all())
    suggested = suggest_regions(f"{entry.title}\n{entry.summary}", within=tagged)
    return [region for region in suggested if region not in tagged]


def region_path(region):
    """靖江市 → 江苏省泰州市靖江市: a region named with the regions above it (one query per level)."""
    return region.path(separator="")


@transaction.atomic
def region_save(*, region, by):
    """Add or change a region after ``region_check``; re-parenting reindexes its entries (policies.receivers)."""
    stored = Region.objects.select_for_update().filter(pk=region.pk).first() if region.pk else None
    if region._state.adding and stored is not None:
        raise ValidationError({"code": _("A region with this code exists already.")})
    region_check(by=by, stored=stored, code=region.code, kind=region.kind, parent=region.parent)
    region.save()
    return region


# --- Themes -----------------------------------------------------------------------------------------


@transaction.atomic
def theme_merge(*, themes, into, by):
    """Merge ``themes`` into ``into``: every entry (and every other holder, such as a subscriber's preferences)
    tagged with one of them is tagged with ``into``, their keywords join its rules, and they are deleted. Each
    entry's change goes into its history; the library reindexes them on commit. Returns the entries retagged."""
    if not (by.has_perm("policies.change_theme") and by.has_perm("policies.delete_theme")):
        raise PermissionDenied(_("You may not merge themes."))
    sources = [theme for theme in Theme.objects.select_for_update().filter(pk__in=[t.pk for t in themes])]
    sources = [theme for theme in sources if theme.pk != into.pk]
    if not sources:
        raise ValidationError(_("Choose at least one theme other than the one merged into."))
    retagged = 0
    for entry in Entry.objects.filter(themes__in=sources).distinct().order_by("pk"):
        entry._change_reason = "themes merged"
        entry._history_user = by
        entry.themes.add(into)
        entry.themes.remove(*sources)
        retagged += 1
    for relation in Theme._meta.related_objects:  # other holders: bulk, through their join table
        if not relation.many_to_many or relation.related_model is Entry:
            continue
        through = relation.through
        owner = relation.field.m2m_field_name() + "_id"
        theme = relation.field.m2m_reverse_field_name() + "_id"
        owners = set(through.objects.filter(**{f"{theme}__in": [t.pk for t in sources]}).values_list(owner, flat=True))
        through.objects.bulk_create([through(**{owner: pk, theme: into.pk}) for pk in owners], ignore_conflicts=True)
    keywords = into.keyword_list
    for source in sources:
        keywords += [word for word in [source.name, *source.keyword_list] if word not in keywords]
    into.keywords = "\n".join(keywords)
    into.save(update_fields=["keywords"])
    for source in sources:
        source.delete()
    return retagged
