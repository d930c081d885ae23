"""A fixed-window counter in Django's default cache, shared by every web process when that cache is Redis.

On Redis one Lua script increments the counter and starts its window in a single atomic step, so concurrent
requests in any number of processes are counted exactly and a counter can never be left without an expiry.
Other cache backends (the local-memory cache of the embedded default, one process) use add and incr."""

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

# KEYS[1]: the counter; ARGV[1]: the window in seconds. Returns the count including this hit.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""


def parse(spec):
    """``"N/SECONDS"`` as ``(N, SECONDS)``."""
    limit, period = (int(part) for part in spec.split("/"))
    return limit, period


def hit(key, period):
    """Count one hit on ``key`` in the current window of ``period`` seconds; the count so far."""
    cache_key = f"subscribers:ratelimit:{key}"
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(cache_key)
        client = cache._cache.get_client(full_key, write=True)  # the backend's own connection pool
        return int(client.eval(_HIT, 1, full_key, period))
    if cache.add(cache_key, 1, period):
        return 1
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, period)
        return 1


def over_limit(key, spec):
    """Count one hit on ``key``; True once more than ``spec`` ("N/SECONDS") hits fell in the window."""
    limit, period = parse(spec)
    return hit(key, period) > limit
