"""When each frequency is due: 即时 on every run (every ALERTS_INSTANT_INTERVAL), 每日 at 08:00 Asia/Shanghai,
每周 on Monday at 08:00 (the slots of ``mailings.schedule``, which the subscribers' weekly 快讯 keeps too). A
daily or weekly alert is due when its last window ended before the latest such slot, so a run that was missed
is made up by the next, and a second run at the same slot sends nothing."""

from alerts.models import Frequency
from mailings.schedule import TIME_ZONE, latest_daily_slot, latest_weekly_slot

__all__ = ["TIME_ZONE", "latest_slot"]


def latest_slot(frequency, now):
    """The latest scheduled time at or before ``now`` for ``frequency``; None for instant (always due)."""
    if frequency == Frequency.INSTANT:
        return None
    return latest_weekly_slot(now) if frequency == Frequency.WEEKLY else latest_daily_slot(now)
