"""A fixed-window counter in Django's cache (configure a shared cache, e.g. Redis, with several web processes)."""

from django.core.cache import cache


def over_limit(key, spec):
    """Count one hit on ``key``; True once more than ``spec`` ("N/SECONDS") hits fell in the window."""
    limit, period = (int(part) for part in spec.split("/"))
    cache_key = f"subscribers:ratelimit:{key}"
    if cache.add(cache_key, 1, period):
        return limit < 1
    try:
        return cache.incr(cache_key) > limit
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, period)
        return limit < 1
