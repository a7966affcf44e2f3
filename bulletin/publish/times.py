"""Showing moments to editors: local time with its zone, UTC beside it, and how far off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


def local(moment: datetime, zone: tzinfo) -> str:
    """2024-03-31 09:00 CEST +02:00"""
    here = moment.astimezone(zone)
    return f"{here:%Y-%m-%d %H:%M} {here.tzname()} {offset(here)}"


def utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def offset(moment: datetime) -> str:
    delta = moment.utcoffset() or timedelta()
    sign = "-" if delta < timedelta() else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def distance(moment: datetime, now: datetime) -> str:
    """'in 2 d 3 h', '5 min ago', 'now'."""
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 60:
        return "now"
    minutes = int(abs(seconds) // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else ""]
    if not days:
        parts.append(f"{minutes} min" if minutes else "")
    text = " ".join(p for p in parts if p)
    return f"in {text}" if seconds > 0 else f"{text} ago"
