"""Maintenance windows."""
from __future__ import annotations

import datetime as dt

import pytest

from cniupgrade.api.models import MaintenanceWindow
from cniupgrade.rollout.window import InvalidWindow, is_open, next_opening

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(**kw) -> MaintenanceWindow:
    return MaintenanceWindow(**{"days": ["Mon", "Tue"], "start": "09:00", "end": "17:00", **kw})


def test_same_day_window():
    w = window()
    assert is_open(w, at("2026-11-23T09:00"))  # a Monday
    assert is_open(w, at("2026-11-24T16:59"))
    assert not is_open(w, at("2026-11-23T17:00"))
    assert not is_open(w, at("2026-11-25T10:00"))  # Wednesday
    assert is_open(None, at("2026-11-25T10:00"))


def test_overnight_window_belongs_to_the_day_it_opens():
    w = window(days=["Fri"], start="22:00", end="04:00")
    assert is_open(w, at("2026-11-27T23:30"))  # Friday night
    assert is_open(w, at("2026-11-28T03:59"))  # Saturday early, still Friday's window
    assert not is_open(w, at("2026-11-28T22:30"))  # Saturday night: no window
    assert not is_open(w, at("2026-11-27T03:00"))  # Friday early belongs to Thursday, not listed


def test_time_zone_is_honoured():
    w = window(days=["Mon"], start="09:00", end="10:00", time_zone="Asia/Shanghai")
    assert is_open(w, at("2026-11-23T01:30"))  # 09:30 in Shanghai
    assert not is_open(w, at("2026-11-23T09:30"))


def test_next_opening():
    w = window(days=["Wed"], start="02:00", end="03:00", time_zone="Europe/Berlin")
    assert next_opening(w, at("2026-11-23T12:00")) == at("2026-11-25T01:00")
    assert next_opening(w, at("2026-11-25T01:30")) == at("2026-11-25T01:30")  # open now


def test_unknown_zone_is_a_clear_error():
    with pytest.raises(InvalidWindow, match="Mars/Olympus"):
        is_open(window(time_zone="Mars/Olympus"), at("2026-11-23T12:00"))
