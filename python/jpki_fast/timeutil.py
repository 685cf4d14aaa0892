"""UTC instants as integer seconds since the Unix epoch; ``now`` is accepted everywhere."""

from __future__ import annotations

import datetime as _dt
import time as _time
from typing import Union

NowLike = Union[None, int, float, str, _dt.datetime]

UTC = _dt.timezone.utc


def to_epoch(now: NowLike) -> int:
    """Normalises ``now`` to whole seconds since 1970-01-01T00:00:00Z.

    Accepts None (the current time), an int/float epoch, an ISO 8601 string (``Z`` or an
    offset; a string without offset is taken as UTC), or a datetime (naive means UTC).

    >>> to_epoch("2026-11-26T00:00:00Z")
    1795651200
    """
    if now is None:
        return int(_time.time())
    if isinstance(now, bool):
        raise TypeError("now: expected a datetime, ISO 8601 string or epoch seconds, not bool")
    if isinstance(now, (int, float)):
        return int(now)
    if isinstance(now, str):
        text = now.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            now = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"now: {now!r} is not an ISO 8601 date/time (e.g. 2026-11-26T09:00:00Z)") from None
    if isinstance(now, _dt.datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return int(now.timestamp())
    if isinstance(now, _dt.date):
        return int(_dt.datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp())
    raise TypeError(f"now: unsupported type {type(now).__name__}")


def iso(epoch: int | None) -> str | None:
    """``2026-11-26T00:00:00Z`` for an epoch, None for None."""
    if epoch is None:
        return None
    return _dt.datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
