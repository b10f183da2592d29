"""Maintenance windows: is one open now, and when does the next open (pure, time zone aware)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cniupgrade.api.models import MaintenanceWindow

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class InvalidWindow(ValueError):
    pass


def _zone(window: MaintenanceWindow) -> ZoneInfo:
    try:
        return ZoneInfo(window.time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidWindow(f"unknown time zone {window.time_zone!r} in spec.window.timeZone") from exc


def _hm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def is_open(window: MaintenanceWindow | None, now: dt.datetime) -> bool:
    """Days name the day a window opens; a window past midnight stays open into the next day."""
    if window is None:
        return True
    local = now.astimezone(_zone(window))
    start, end, t = _hm(window.start), _hm(window.end), local.time()
    days = {d.value for d in window.days}
    today, yesterday = WEEKDAYS[local.weekday()], WEEKDAYS[(local.weekday() - 1) % 7]
    if start < end:
        return today in days and start <= t < end
    return (today in days and t >= start) or (yesterday in days and t < end)


def next_opening(window: MaintenanceWindow, now: dt.datetime) -> dt.datetime:
    """The next moment the window opens (now if it is open), in UTC."""
    if is_open(window, now):
        return now
    zone = _zone(window)
    local = now.astimezone(zone)
    days = {d.value for d in window.days}
    for offset in range(0, 8):
        day = local.date() + dt.timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in days:
            continue
        opening = dt.datetime.combine(day, _hm(window.start), tzinfo=zone)
        if opening > local:
            return opening.astimezone(dt.timezone.utc)
    raise InvalidWindow("the window never opens")  # unreachable with at least one day
