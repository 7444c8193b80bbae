"""Business-time arithmetic, pure: no database. DST-correct because every window edge is built as a wall-clock
time in the tenant's zone and only then turned into an instant; durations are measured between instants."""

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import holidays as holidays_lib
from django.utils.translation import gettext as _

# A target further than this in the future is a configuration mistake (e.g. a calendar with no windows).
MAX_DAYS = 800


class CalendarError(ValueError):
    """A business calendar that cannot be read (bad windows, unknown country or state)."""


_ZONES = frozenset(available_timezones())


@functools.lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str) -> holidays_lib.HolidayBase:
    return holidays_lib.country_holidays(country, subdiv=subdivision or None)


def _weekday(key: object) -> int:
    if not (isinstance(key, int) or (isinstance(key, str) and key.isdigit())) or not 0 <= int(key) <= 6:
        raise CalendarError(_("weekday %(key)s is not 0 (Monday) … 6 (Sunday)") % {"key": repr(key)})
    return int(key)


def _wall_time(value: object) -> time:
    try:
        return time.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CalendarError(_("%(value)s is not a time (HH:MM)") % {"value": repr(value)}) from None


def _day(value: object) -> date:
    try:
        return date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CalendarError(_("%(value)s is not a date (YYYY-MM-DD)") % {"value": repr(value)}) from None


def _zone(name: str) -> ZoneInfo:
    if name not in _ZONES:
        raise CalendarError(_("%(value)s is not a time zone") % {"value": repr(name)})
    return ZoneInfo(name)


def _check_region(country: str, subdivision: str) -> None:
    """Against the holidays package's own list, instead of waiting for it to fail on an unknown one."""
    supported = holidays_lib.list_supported_countries()
    if country not in supported:
        raise CalendarError(_("%(value)s is not a country SAC knows the holidays of") % {"value": repr(country)})
    if subdivision and subdivision not in supported[country]:
        raise CalendarError(_("%(value)s is not one of %(country)s's states or regions")
                            % {"value": repr(subdivision), "country": country})


@dataclass(frozen=True)
class Hours:
    """The working hours of a calendar. `windows[weekday]` are (start, end) wall-clock pairs; end <= start
    runs past midnight. `None` windows means 24/7 (calendar hours)."""

    tz: ZoneInfo
    windows: dict[int, tuple[tuple[time, time], ...]] | None = None
    country: str = ""
    subdivision: str = ""
    extra_holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def always(cls, tz: str = "UTC") -> "Hours":
        return cls(tz=ZoneInfo(tz))

    @classmethod
    def from_config(cls, *, tz: str, windows: dict, country: str = "", subdivision: str = "",
                    extra_holidays: list[str] | tuple[str, ...] = ()) -> "Hours":
        """Read a stored calendar. Anything wrong in it — a weekday, a time, a date, an unknown zone, country or
        state — is one CalendarError with the reason, so forms and the admin catch one thing."""
        parsed: dict[int, tuple[tuple[time, time], ...]] = {}
        for key, pairs in (windows or {}).items():
            weekday = _weekday(key)
            parsed[weekday] = tuple(sorted((_wall_time(a), _wall_time(b)) for a, b in pairs))
        if country:  # checked now, not found out in the sweep
            _check_region(country, subdivision)
        return cls(tz=_zone(tz), windows=parsed, country=country, subdivision=subdivision,
                   extra_holidays=frozenset(_day(d) for d in extra_holidays))

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        return bool(self.country) and day in _public_holidays(self.country, self.subdivision)

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC instants, ascending, non-overlapping) that end after `start`.

        A window belongs to the day it starts on: a Friday 22:00–06:00 shift runs into Saturday, and a
        holiday on Friday cancels it."""
        assert self.windows is not None
        day = start.astimezone(self.tz).date() - timedelta(days=1)  # yesterday's night shift may still run
        last_end = start
        for _day_number in range(MAX_DAYS):
            if not self.is_holiday(day):
                for a, b in self.windows.get(day.weekday(), ()):
                    begin = datetime.combine(day, a, tzinfo=self.tz).astimezone(UTC)
                    end_day = day if b > a else day + timedelta(days=1)
                    end = datetime.combine(end_day, b, tzinfo=self.tz).astimezone(UTC)
                    begin = max(begin, last_end)
                    if end > begin:
                        yield begin, end
                        last_end = end
            day += timedelta(days=1)
        raise CalendarError(_("no working time within %(days)s days of %(start)s")
                            % {"days": MAX_DAYS, "start": start.isoformat()})

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant `minutes` of working time after `start`."""
        if self.windows is None:
            return start + timedelta(minutes=minutes)
        remaining = timedelta(minutes=minutes)
        if remaining <= timedelta(0):
            return start
        for begin, end in self.intervals(start):
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
        raise AssertionError("unreachable: intervals() raises first")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (negative when end is before start)."""
        if end < start:
            return -self.between(end, start)
        if self.windows is None:
            return end - start
        total = timedelta(0)
        for begin, stop in self.intervals(start):
            if begin >= end:
                break
            total += min(stop, end) - begin
        return total
