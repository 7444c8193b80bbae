from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.hours import CalendarError, Hours

SP = ZoneInfo("America/Sao_Paulo")
LX = ZoneInfo("Europe/Lisbon")
WEEKDAYS_9_18 = {str(d): [["09:00", "18:00"]] for d in range(5)}


def _sp(*args):
    return datetime(*args, tzinfo=SP)


def test_it_counts_only_inside_the_window_and_skips_the_weekend():
    hours = Hours.from_config(tz="America/Sao_Paulo", windows=WEEKDAYS_9_18)
    # Friday 17:30 + 60 business minutes = Monday 09:30.
    assert hours.add(_sp(2026, 11, 27, 17, 30), 60) == _sp(2026, 11, 30, 9, 30)
    # A message at night starts counting at 09:00.
    assert hours.add(_sp(2026, 11, 24, 22, 0), 30) == _sp(2026, 11, 25, 9, 30)
    assert hours.between(_sp(2026, 11, 27, 17, 30), _sp(2026, 11, 30, 9, 30)) == timedelta(minutes=60)


def test_it_handles_split_shifts():
    hours = Hours.from_config(tz="America/Sao_Paulo", windows={"0": [["14:00", "18:00"], ["08:00", "12:00"]]})
    # Monday 11:00 + 120 min: one hour before lunch, one after it.
    assert hours.add(_sp(2026, 11, 23, 11, 0), 120) == _sp(2026, 11, 23, 15, 0)
    assert hours.between(_sp(2026, 11, 23, 7, 0), _sp(2026, 11, 23, 19, 0)) == timedelta(hours=8)


def test_a_shift_past_midnight_belongs_to_the_day_it_starts():
    hours = Hours.from_config(tz="America/Sao_Paulo", windows={"4": [["22:00", "06:00"]]})  # Friday night
    assert hours.add(_sp(2026, 11, 27, 23, 0), 120) == _sp(2026, 11, 28, 1, 0)
    # Saturday 05:00 is still Friday's shift: one hour left of it.
    assert hours.add(_sp(2026, 11, 28, 5, 0), 90) == _sp(2026, 12, 4, 22, 30)


def test_national_and_state_holidays_of_brazil_and_tenant_dates_are_not_worked():
    hours = Hours.from_config(tz="America/Sao_Paulo", windows=WEEKDAYS_9_18, country="BR", subdivision="SP",
                              extra_holidays=["2026-12-24"])
    # 20 Nov 2026 (Friday) is Consciência Negra (national since 2024): Thursday 17:00 + 2 h → Monday 10:00.
    assert hours.add(_sp(2026, 11, 19, 17, 0), 120) == _sp(2026, 11, 23, 10, 0)
    # 9 July is a São Paulo state holiday (Revolução Constitucionalista), not in Rio.
    assert hours.is_holiday(date(2026, 7, 9))
    rio = Hours.from_config(tz="America/Sao_Paulo", windows=WEEKDAYS_9_18, country="BR", subdivision="RJ")
    assert not rio.is_holiday(date(2026, 7, 9))
    assert hours.is_holiday(date(2026, 12, 24)) and hours.is_holiday(date(2026, 12, 25))


def test_portuguese_holidays():
    hours = Hours.from_config(tz="Europe/Lisbon", windows=WEEKDAYS_9_18, country="PT")
    assert hours.is_holiday(date(2026, 6, 10))  # Dia de Portugal
    assert not hours.is_holiday(date(2026, 6, 11))


def test_daylight_saving_transitions_count_real_minutes():
    hours = Hours.from_config(tz="Europe/Lisbon", windows={str(d): [["00:00", "00:00"]] for d in range(7)})
    # Lisbon springs forward on 29 March 2026 at 01:00 → 02:00: the local day has 23 hours.
    start = datetime(2026, 3, 29, 0, 0, tzinfo=LX)
    assert hours.add(start, 23 * 60) == datetime(2026, 3, 30, 0, 0, tzinfo=LX)
    # And falls back on 25 October 2026: that day has 25 hours.
    start = datetime(2026, 10, 25, 0, 0, tzinfo=LX)
    assert hours.between(start, datetime(2026, 10, 26, 0, 0, tzinfo=LX)) == timedelta(hours=25)
    # A 9–18 window on the fall-back day is still 9 wall-clock hours, and the instant is right in UTC.
    office = Hours.from_config(tz="Europe/Lisbon", windows={"6": [["09:00", "18:00"]]})
    due = office.add(datetime(2026, 10, 25, 8, 0, tzinfo=LX), 60)
    assert due.astimezone(UTC) == datetime(2026, 10, 25, 10, 0, tzinfo=UTC)  # 10:00 WET = 10:00 UTC


def test_calendar_hours_are_plain_arithmetic():
    hours = Hours.always()
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert hours.add(start, 90) == start + timedelta(minutes=90)
    assert hours.between(start + timedelta(hours=1), start) == -timedelta(hours=1)


def test_bad_configuration_is_refused_clearly():
    with pytest.raises(CalendarError):
        Hours.from_config(tz="UTC", windows={"9": [["09:00", "10:00"]]})
    with pytest.raises(CalendarError):
        Hours.from_config(tz="UTC", windows={}).add(datetime(2026, 1, 1, tzinfo=UTC), 10)


def test_every_way_a_stored_calendar_can_be_wrong_is_one_calendar_error():
    wrong = [
        {"tz": "UTC", "windows": {"0": [["25:00", "26:00"]]}},                      # not a time
        {"tz": "UTC", "windows": {"segunda": [["09:00", "10:00"]]}},                # not a weekday number
        {"tz": "UTC", "windows": {"0": [["09:00", "10:00"]]}, "country": "XX"},    # no such country
        {"tz": "UTC", "windows": {"0": [["09:00", "10:00"]]}, "country": "BR", "subdivision": "ZZ"},
        {"tz": "UTC", "windows": {"0": [["09:00", "10:00"]]}, "extra_holidays": ["31/12/2026"]},
        {"tz": "Mars/Olympus", "windows": {"0": [["09:00", "10:00"]]}},
    ]
    for config in wrong:
        with pytest.raises(CalendarError):
            Hours.from_config(**config)
