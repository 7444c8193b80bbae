"""Business-time arithmetic, pure: no database. DST-correct because every window edge is built as a wall-clock
time in the tenant's zone and only then turned into an instant; durations are measured between instants."""

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from django.utils.translation import gettext as _

# A target further than this in the future is a configuration mistake (e.g. a calendar with no windows).
MAX_DAYS = 800


class CalendarError(ValueError):
    """A business calendar that cannot be read (bad windows, unknown country or state)."""


@functools.lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str) -> holidays_lib.HolidayBase:
    return holidays_lib.country_holidays(country, subdiv=subdivision or None)


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
        try:
            return cls._from_config(tz=tz, windows=windows, country=country, subdivision=subdivision,
                                    extra_holidays=extra_holidays)
        except CalendarError:
            raise
        # The holidays package says "unknown country or state" with NotImplementedError (and KeyError in some
        # versions); fromisoformat, int() and ZoneInfo with ValueError/TypeError/KeyError.
        except (ValueError, TypeError, KeyError, NotImplementedError) as exc:
            raise CalendarError(str(exc) or exc.__class__.__name__) from exc

    @classmethod
    def _from_config(cls, *, tz: str, windows: dict, country: str, subdivision: str,
                     extra_holidays: list[str] | tuple[str, ...]) -> "Hours":
        parsed: dict[int, tuple[tuple[time, time], ...]] = {}
        for key, pairs in (windows or {}).items():
            weekday = int(key)
            if not 0 <= weekday <= 6:
                raise CalendarError(_("weekday %(key)s is not 0 (Monday) … 6 (Sunday)") % {"key": repr(key)})
            parsed[weekday] = tuple(sorted((time.fromisoformat(a), time.fromisoformat(b)) for a, b in pairs))
        if country:
            _public_holidays(country, subdivision)  # fails now, on a bad country/state, not in the sweep
        return cls(tz=ZoneInfo(tz), windows=parsed, country=country, subdivision=subdivision,
                   extra_holidays=frozenset(date.fromisoformat(d) for d in extra_holidays))

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
