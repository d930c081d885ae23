"""When each frequency is due: 即时 on every run (every ALERTS_INSTANT_INTERVAL), 每日 at 08:00 Asia/Shanghai,
每周 on Monday at 08:00. A daily or weekly alert is due when its last window ended before the latest such
slot, so a run that was missed is made up by the next, and a second run at the same slot sends nothing."""

import datetime
import zoneinfo

from alerts.models import Frequency

TIME_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
SEND_HOUR = 8


def latest_slot(frequency, now):
    """The latest scheduled time at or before ``now`` for ``frequency``; None for instant (always due)."""
    if frequency == Frequency.INSTANT:
        return None
    local = now.astimezone(TIME_ZONE)
    slot = local.replace(hour=SEND_HOUR, minute=0, second=0, microsecond=0)
    if slot > local:
        slot -= datetime.timedelta(days=1)
    if frequency == Frequency.WEEKLY:
        slot -= datetime.timedelta(days=slot.weekday())  # back to Monday
    return slot
