"""Which channels carry a notice to a person, when it may go, and when a failed try is retried.
Pure Python: the dispatcher (services/notify/service_layer/dispatch.py) applies it.

- A person's own channels ([people.<name>] channels), else the tenant's default channels; nobody
  and nothing configured means the notice is undeliverable (said in the delivery log, not lost
  silently).
- Quiet hours ([people.<name>] quiet_hours = "22:00-07:00", plant time): a notice that is not urgent
  waits until they end; an urgent one (stop work, a due date at risk) goes at once.
- A failed try is retried after base × factor^(n−1) seconds, capped, or after the platform's own
  retry-after when that is longer; after the last try the delivery is failed (given up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Route:
    channels: tuple[str, ...]
    not_before: datetime  # UTC: now, or the end of the recipient's quiet hours
    held_reason: str = ""  # "quiet_hours" when held


def channels_for(own: tuple[str, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(own or default))  # once each, in the order given


def quiet_until(quiet_hours: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The end of the quiet period `now` falls in (UTC), or None when `now` is not quiet.

    "22:00-07:00" spans midnight; "12:00-13:30" does not; equal ends ("00:00-00:00") mean never
    quiet rather than always (a person who is never to be reached should have no channels)."""
    if not quiet_hours:
        return None
    start_text, end_text = quiet_hours.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    if start == end:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= clock < end
        end_day = local.date()
    else:  # across midnight: quiet from start to midnight and from midnight to end
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    # The wall-clock end in the plant's zone (fold=0: an ambiguous end resolves to the first).
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(now.tzinfo)


def route(
    own: tuple[str, ...],
    default: tuple[str, ...],
    quiet_hours: str,
    urgent: bool,
    now: datetime,
    zone: ZoneInfo,
) -> Route:
    channels = channels_for(own, default)
    held = None if urgent else quiet_until(quiet_hours, now, zone)
    if held is None:
        return Route(channels, now)
    return Route(channels, held, "quiet_hours")


@dataclass(frozen=True)
class Backoff:
    attempts: int = 10
    base_delay_s: float = 5.0
    factor: float = 2.0
    max_delay_s: float = 600.0

    def after_failure(self, attempt: int, retry_after_s: float | None = None) -> float | None:
        """Seconds until the next try after failed try number `attempt` (1-based); None = give up."""
        if attempt >= self.attempts:
            return None
        wait = min(self.base_delay_s * self.factor ** (attempt - 1), self.max_delay_s)
        if retry_after_s is not None and retry_after_s > wait:
            wait = min(retry_after_s, self.max_delay_s)
        return wait
