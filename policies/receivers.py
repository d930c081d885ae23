"""Model signals that keep the library's index in step, whatever path wrote the catalogue.

Each receiver only notes which entries a write touched (``policies.indexing.catalogue_touch``); they are
reindexed once, on commit. No logic beyond finding the entries lives here.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from policies.indexing import catalogue_touch, entry_counts_forget
from policies.models import Entry, Region, Theme


def _entry_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        catalogue_touch([instance.pk])


def _entry_deleting(sender, instance, **kwargs):
    entry_counts_forget(instance.pk)


def _entry_deleted(sender, instance, **kwargs):
    catalogue_touch([instance.pk])  # its rows went by cascade; this only clears it from the pending list


def _tags_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """An entry's regions or themes changed, from the entry's side or from the region's or theme's."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        catalogue_touch([instance.pk])
    elif action == "pre_clear":
        catalogue_touch(sender.objects.filter(**{_tag_column(sender): instance.pk}).values_list("entry_id", flat=True))
    else:
        catalogue_touch(pk_set or ())


def _tag_column(through):
    return "region_id" if through is Entry.regions.through else "theme_id"


def _region_changing(sender, instance, raw=False, **kwargs):
    """A region moved under another parent: every entry tagged with it or below it is filed elsewhere now."""
    if raw or instance._state.adding:
        return
    old_parent = Region.objects.filter(pk=instance.pk).values_list("parent_id", flat=True).first()
    if old_parent != instance.parent_id:
        catalogue_touch(_entries_tagged(_with_descendants(instance.pk)))


def _region_deleting(sender, instance, **kwargs):
    catalogue_touch(_entries_tagged([instance.pk]))


def _theme_deleting(sender, instance, **kwargs):
    catalogue_touch(Entry.themes.through.objects.filter(theme_id=instance.pk).values_list("entry_id", flat=True))


def _with_descendants(code):
    codes, frontier = {code}, [code]
    while frontier:
        frontier = list(Region.objects.filter(parent_id__in=frontier).values_list("code", flat=True))
        frontier = [c for c in frontier if c not in codes]
        codes.update(frontier)
    return codes


def _entries_tagged(codes):
    return Entry.regions.through.objects.filter(region_id__in=codes).values_list("entry_id", flat=True)


def connect():
    from django.apps import apps

    entry_models = [model for model in apps.get_models() if issubclass(model, Entry)]
    for model in entry_models:
        label = model._meta.label_lower
        post_save.connect(_entry_saved, sender=model, dispatch_uid=f"catalogue.saved.{label}")
        pre_delete.connect(_entry_deleting, sender=model, dispatch_uid=f"catalogue.deleting.{label}")
        post_delete.connect(_entry_deleted, sender=model, dispatch_uid=f"catalogue.deleted.{label}")
    for through in (Entry.regions.through, Entry.themes.through):
        m2m_changed.connect(_tags_changed, sender=through, dispatch_uid=f"catalogue.tags.{through._meta.label_lower}")
    pre_save.connect(_region_changing, sender=Region, dispatch_uid="catalogue.region.changing")
    pre_delete.connect(_region_deleting, sender=Region, dispatch_uid="catalogue.region.deleting")
    pre_delete.connect(_theme_deleting, sender=Theme, dispatch_uid="catalogue.theme.deleting")
