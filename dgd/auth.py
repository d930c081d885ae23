"""Permissions read once per change, not twice per request.

Django's ``ModelBackend`` reads a user's permissions (two queries: their own, their groups') on every request
that checks one, which is every library page. ``CachedPermissionsBackend`` keeps each user's set in the shared
cache beside a **generation**: any change that can alter anyone's permissions (a user's groups or own
permissions, a group's permissions, a user, group or permission saved or deleted) sets a new generation, in
the change's transaction and again when it commits, so a set read before the commit is never kept. A set
stored under an older generation is read from the database again. Whether the user is active is read with
the user on every request, never from the cache.

Only with a cache that every process shares (Redis: ``DGD_CACHE_PERMISSIONS``): a per-process cache would
not see a change made by another process (a command, a second web worker). A set is also kept at most
``TIMEOUT`` seconds, for changes made by raw SQL, which send no signal.
"""

import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

GENERATION_KEY = "auth:permissions:generation"
TIMEOUT = 300


def _user_key(pk):
    return f"auth:permissions:user:{pk}"


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not settings.DGD_CACHE_PERMISSIONS:
            return super().get_all_permissions(user_obj, obj)
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = _user_key(user_obj.pk)
            found = cache.get_many([GENERATION_KEY, key])
            generation, stored = found.get(GENERATION_KEY), found.get(key)
            if generation is not None and stored is not None and stored[0] == generation:
                user_obj._perm_cache = set(stored[1])
            else:
                if generation is None:
                    cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
                    generation = cache.get(GENERATION_KEY)
                permissions = super().get_all_permissions(user_obj)  # read after the generation: never newer
                cache.set(key, (generation, frozenset(permissions)), TIMEOUT)
                user_obj._perm_cache = permissions
        return user_obj._perm_cache


def permissions_changed(**_kwargs):
    """A new generation now and when the change commits: every cached set is read again."""
    if not settings.DGD_CACHE_PERMISSIONS:
        return
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    transaction.on_commit(lambda: cache.set(GENERATION_KEY, uuid.uuid4().hex, None))


def _user_saved(update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) <= {"last_login", "password"}:
        return  # signing in changes no permission
    permissions_changed(**kwargs)


def connect_signals():
    """(``dgd.apps``) The changes that can alter a permission set."""
    User = get_user_model()
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(permissions_changed, sender=through, dispatch_uid=f"dgd-permissions-{through.__name__}")
    post_save.connect(_user_saved, sender=User, dispatch_uid="dgd-permissions-user-saved")
    for model in (User, Group, Permission):
        post_delete.connect(permissions_changed, sender=model, dispatch_uid=f"dgd-permissions-{model.__name__}-del")
    for model in (Group, Permission):
        post_save.connect(permissions_changed, sender=model, dispatch_uid=f"dgd-permissions-{model.__name__}-saved")
