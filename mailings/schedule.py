"""The mail schedule's slots: 08:00 Asia/Shanghai every day, and on Monday for what is weekly. A run is due
when the last one it made predates the latest slot, so a missed run is made up by the next and a second run
in the same slot does nothing."""

import datetime
import zoneinfo

TIME_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
SEND_HOUR = 8


def latest_daily_slot(now):
    """The latest 08:00 (Asia/Shanghai) at or before ``now``."""
    local = now.astimezone(TIME_ZONE)
    slot = local.replace(hour=SEND_HOUR, minute=0, second=0, microsecond=0)
    if slot > local:
        slot -= datetime.timedelta(days=1)
    return slot


def latest_weekly_slot(now):
    """The latest Monday 08:00 (Asia/Shanghai) at or before ``now``."""
    slot = latest_daily_slot(now)
    return slot - datetime.timedelta(days=slot.weekday())
