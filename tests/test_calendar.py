"""Tests for bevilling.calendar: day kinds (helligdagsloven § 2, alkoholloven §§ 3-7, 4-4) and Oslo time."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bevilling.calendar import (
    FIRST_YEAR,
    LAST_YEAR,
    OSLO,
    SERVING_DAY_START,
    DayTag,
    LocalTimeError,
    ServingMoment,
    day_info,
    days_of_year,
    easter_sunday,
    hhmm,
    parse_instant,
    sales_moment,
    serving_moment,
)

TABLE = Path(__file__).parent / "data" / "calendar_2026_2028.csv"

# No example database: the tests must not leave files in the repository.
PROPERTY = settings(max_examples=500, deadline=None, database=None)

supported_dates = st.dates(min_value=date(FIRST_YEAR, 1, 1), max_value=date(LAST_YEAR, 12, 31))

WEEKDAY_TAGS = (
    DayTag.MANDAG,
    DayTag.TIRSDAG,
    DayTag.ONSDAG,
    DayTag.TORSDAG,
    DayTag.FREDAG,
    DayTag.LORDAG,
    DayTag.SONDAG,
)


def tags(d: date) -> frozenset[DayTag]:
    return day_info(d).tags


# --- the reviewed table -----------------------------------------------------------------------------------


def test_every_day_2026_to_2028_matches_the_reviewed_table() -> None:
    # The table was generated once and then checked by hand against the anchors in
    # law.md § 2.2 and municipalities.md (calendar anchors); it is never regenerated here.
    with TABLE.open(newline="") as f:
        rows = list(csv.DictReader(f))
    expected = {date.fromisoformat(row["date"]): row["tags"] for row in rows}
    assert min(expected) == date(2026, 1, 1)
    assert max(expected) == date(2028, 12, 31)
    assert len(expected) == len(rows) == 365 + 365 + 366
    actual = {
        info.date: ";".join(sorted(tag.value for tag in info.tags))
        for year in (2026, 2027, 2028)
        for info in days_of_year(year)
    }
    mismatches = {d: (expected[d], actual.get(d)) for d in expected if expected[d] != actual.get(d)}
    assert mismatches == {}


# --- golden days ------------------------------------------------------------------------------------------


def test_the_day_before_kristi_himmelfartsdag_keeps_weekday_hours() -> None:
    # aloven § 3-7 (Hdir commentary to § 3-4a): the 15:00/18:00 day-before rule does not apply to the day
    # before Kristi himmelfartsdag. KHF 2026 is Thu 14 May (law.md § 2.2).
    wednesday = tags(date(2026, 5, 13))
    assert DayTag.DAG_FOR_KRISTI_HIMMELFART in wednesday
    assert DayTag.HVERDAG in wednesday
    assert DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG not in wednesday


def test_kristi_himmelfartsdag_is_a_helligdag() -> None:
    # helligdagsloven § 2; law.md § 2.2.
    info = day_info(date(2026, 5, 14))
    assert info.has(DayTag.HELLIGDAG)
    assert info.has(DayTag.KRISTI_HIMMELFARTSDAG)
    assert info.holiday_name == "Kristi himmelfartsdag"


def test_the_saturday_before_17_mai_on_a_sunday_is_a_day_before_sunday_and_before_17_mai() -> None:
    # municipalities.md anchors: 17 May 2026 is a Sunday. The Sunday makes 16 May a day before a Sunday
    # (aloven § 3-7) whatever 17. mai is.
    saturday = tags(date(2026, 5, 16))
    assert {DayTag.LORDAG, DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG, DayTag.DAG_FOR_17MAI} <= saturday
    assert DayTag.DAG_FOR_HOYTIDSDAG in saturday


def test_17_mai_on_a_sunday_is_a_hoytidsdag_but_not_a_helligdag() -> None:
    # law.md § 2.2: 1. and 17. mai are offentlige høytidsdager, not helligdager.
    info = day_info(date(2026, 5, 17))
    assert {DayTag.SONDAG, DayTag.HOYTIDSDAG, DayTag.MAI17} <= info.tags
    assert DayTag.HELLIGDAG not in info.tags
    assert info.holiday_name == "Grunnlovsdag"


def test_1_pinsedag_2027_is_the_day_before_2_pinsedag_on_17_mai() -> None:
    # law.md § 2.2 / municipalities.md anchors: 1. pinsedag 16 May 2027, 2. pinsedag = 17 May (Monday).
    sunday = tags(date(2027, 5, 16))
    assert {
        DayTag.PINSEDAG1,
        DayTag.SONDAG,
        DayTag.HELLIGDAG,
        DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG,
        DayTag.DAG_FOR_17MAI,
    } <= sunday
    monday = day_info(date(2027, 5, 17))
    assert {DayTag.PINSEDAG2, DayTag.MAI17, DayTag.HELLIGDAG, DayTag.HOYTIDSDAG} <= monday.tags
    assert DayTag.HVERDAG not in monday.tags
    assert monday.holiday_name == "Andre pinsedag; Grunnlovsdag"


def test_1_mai_on_kristi_himmelfartsdag_is_both_kinds_of_day() -> None:
    # Easter 2008 was 23 March, so KHF fell on 1 May; the day before is still a weekday under § 3-7.
    may_day = tags(date(2008, 5, 1))
    assert {DayTag.HELLIGDAG, DayTag.HOYTIDSDAG, DayTag.KRISTI_HIMMELFARTSDAG, DayTag.MAI1} <= may_day
    eve = tags(date(2008, 4, 30))
    assert {DayTag.DAG_FOR_1MAI, DayTag.DAG_FOR_KRISTI_HIMMELFART, DayTag.DAG_FOR_HOYTIDSDAG} <= eve
    assert DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG not in eve


def test_the_day_before_1_mai_is_an_ordinary_weekday() -> None:
    # law.md § 2.1 "Day before 1. and 17. mai": treated as an ordinary weekday. 1 May 2026 is a Friday.
    eve = tags(date(2026, 4, 30))
    assert {DayTag.DAG_FOR_1MAI, DayTag.DAG_FOR_HOYTIDSDAG, DayTag.HVERDAG, DayTag.TORSDAG} <= eve
    assert DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG not in eve
    may_day = tags(date(2026, 5, 1))
    assert {DayTag.MAI1, DayTag.HOYTIDSDAG, DayTag.SISTE_HELLIGDAG_FOR_VIRKEDAG} <= may_day
    assert DayTag.HELLIGDAG not in may_day


@given(supported_dates)
@PROPERTY
def test_every_saturday_is_a_day_before_a_sunday(d: date) -> None:
    # aloven § 3-7: "dag før søn- og helligdag"; the next day of a Saturday is always a Sunday.
    saturday = d + timedelta(days=(5 - d.weekday()) % 7)
    if saturday.year <= LAST_YEAR:
        assert DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG in tags(saturday)


def test_julaften_2027_is_a_friday_before_a_helligdag() -> None:
    # municipalities.md anchors: julaften 2027 is a Friday; 26 Dec 2027 is a Sunday.
    eve = tags(date(2027, 12, 24))
    assert {DayTag.JULAFTEN, DayTag.FREDAG, DayTag.HVERDAG, DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG} <= eve
    assert {DayTag.JULEDAG2, DayTag.SONDAG, DayTag.HELLIGDAG} <= tags(date(2027, 12, 26))


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_romjul_is_27_to_30_december(year: int) -> None:
    romjul = [d.day for d in (date(year, 12, n) for n in range(20, 32)) if DayTag.ROMJUL in tags(d)]
    assert romjul == [27, 28, 29, 30]
    assert DayTag.NYTTARSAFTEN in tags(date(year, 12, 31))
    assert DayTag.NYTTARSDAG in tags(date(year, 1, 1))


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_skjaertorsdag_is_a_helligdag_and_the_day_before_langfredag(year: int) -> None:
    # helligdagsloven § 2 names both skjærtorsdag and langfredag; aloven § 3-7 then makes skjærtorsdag a
    # "dag før helligdag" as well.
    easter = easter_sunday(year)
    thursday = tags(easter - timedelta(days=3))
    assert {DayTag.SKJAERTORSDAG, DayTag.HELLIGDAG, DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG} <= thursday
    assert DayTag.ONSDAG_FOR_SKJAERTORSDAG in tags(easter - timedelta(days=4))
    assert DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG in tags(easter - timedelta(days=4))


def test_the_2026_and_2027_movable_feasts_fall_on_the_anchor_dates() -> None:
    # law.md § 2.2 "Computed dates" and municipalities.md anchors.
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2027) == date(2027, 3, 28)
    assert DayTag.PAASKEAFTEN in tags(date(2026, 4, 4))
    assert DayTag.PAASKEDAG2 in tags(date(2026, 4, 6))
    assert DayTag.PINSEAFTEN in tags(date(2026, 5, 23))
    assert DayTag.PINSEDAG1 in tags(date(2026, 5, 24))
    assert DayTag.PINSEDAG2 in tags(date(2026, 5, 25))
    assert DayTag.KRISTI_HIMMELFARTSDAG in tags(date(2027, 5, 6))


def test_an_ordinary_sunday_before_a_monday_is_the_last_holiday_before_a_working_day() -> None:
    assert DayTag.SISTE_HELLIGDAG_FOR_VIRKEDAG in tags(date(2026, 3, 1))
    assert DayTag.HELLIGDAG not in tags(date(2026, 3, 1))
    # 1. påskedag is followed by 2. påskedag, which is the last one.
    assert DayTag.SISTE_HELLIGDAG_FOR_VIRKEDAG not in tags(date(2026, 4, 5))
    assert DayTag.SISTE_HELLIGDAG_FOR_VIRKEDAG in tags(date(2026, 4, 6))


def test_the_serving_day_with_the_clock_change_carries_the_dst_tag() -> None:
    # Nights of the change: EU rule, last Sunday of March and October (Europe/Oslo in tzdata).
    days = [info for year in (2026, 2027, 2028) for info in days_of_year(year)]
    summer = {info.date for info in days if info.has(DayTag.SOMMERTID_NATT)}
    winter = {info.date for info in days if info.has(DayTag.VINTERTID_NATT)}
    assert summer == {date(2026, 3, 28), date(2027, 3, 27), date(2028, 3, 25)}
    assert winter == {date(2026, 10, 24), date(2027, 10, 30), date(2028, 10, 28)}


def test_days_of_year_lists_every_date_in_order() -> None:
    year = days_of_year(2028)
    assert len(year) == 366
    assert [i.date for i in year] == [date(2028, 1, 1) + timedelta(days=n) for n in range(366)]
    assert days_of_year(2028) is year


def test_dates_outside_the_supported_years_are_refused() -> None:
    with pytest.raises(ValueError, match="1946-12-31"):
        day_info(date(FIRST_YEAR - 1, 12, 31))
    with pytest.raises(ValueError, match="supported years"):
        day_info(date(LAST_YEAR + 1, 1, 1))
    assert DayTag.NYTTARSAFTEN in tags(date(LAST_YEAR, 12, 31))


# --- Easter and helligdager against independent sources --------------------------------------------------


def test_easter_agrees_with_dateutil_for_every_gregorian_year_it_supports() -> None:
    # dateutil only arrives through holidays, so its absence must not fail the suite.
    dateutil_easter = pytest.importorskip("dateutil.easter").easter
    assert all(easter_sunday(y) == dateutil_easter(y) for y in range(1583, 4100))


def test_easter_agrees_with_the_holidays_package() -> None:
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        table = holidays.country_holidays("NO", years=year, language="no")
        assert table.get_named("Første påskedag", lookup="exact") == [easter_sunday(year)]


def test_helligdager_are_exactly_the_days_helligdagsloven_names() -> None:
    # helligdagsloven § 2 days beside Sundays: fixed dates and Easter offsets from law.md § 2.2.
    offsets = (-3, -2, 0, 1, 39, 49, 50)
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        easter = easter_sunday(year)
        expected = {easter + timedelta(days=n) for n in offsets}
        expected |= {date(year, 1, 1), date(year, 12, 25), date(year, 12, 26)}
        actual = {i.date for i in days_of_year(year) if i.has(DayTag.HELLIGDAG)}
        assert actual == expected, year
        hoytid = {i.date for i in days_of_year(year) if i.has(DayTag.HOYTIDSDAG)}
        assert hoytid == {date(year, 5, 1), date(year, 5, 17)}


# --- properties -------------------------------------------------------------------------------------------


@given(supported_dates)
@PROPERTY
def test_day_kinds_follow_from_their_definitions(d: date) -> None:
    today = tags(d)
    tomorrow_date = d + timedelta(days=1)
    assert [t for t in WEEKDAY_TAGS if t in today] == [WEEKDAY_TAGS[d.weekday()]]

    holiday = DayTag.HELLIGDAG in today or DayTag.HOYTIDSDAG in today
    assert (DayTag.HVERDAG in today) == (d.weekday() < 6 and not holiday)

    if tomorrow_date.year <= LAST_YEAR:
        tomorrow = tags(tomorrow_date)
        before_rest_day = tomorrow_date.weekday() == 6 or DayTag.HELLIGDAG in tomorrow
        assert (DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG in today) == (
            before_rest_day and DayTag.KRISTI_HIMMELFARTSDAG not in tomorrow
        )
        assert (DayTag.DAG_FOR_HOYTIDSDAG in today) == (DayTag.HOYTIDSDAG in tomorrow)
        assert (DayTag.SISTE_HELLIGDAG_FOR_VIRKEDAG in today) == (
            DayTag.HVERDAG not in today and DayTag.HVERDAG in tomorrow
        )

    assert (DayTag.HOYTIDSDAG in today) == ((d.month, d.day) in {(5, 1), (5, 17)})
    assert (day_info(d).holiday_name is None) == (not holiday)


# --- parse_instant ----------------------------------------------------------------------------------------


def test_a_naive_time_is_oslo_wall_time() -> None:
    instant = parse_instant("2026-05-16T01:30")
    assert instant == datetime(2026, 5, 15, 23, 30, tzinfo=UTC)
    assert instant.tzinfo is OSLO


def test_a_time_the_spring_clock_skips_is_refused() -> None:
    with pytest.raises(LocalTimeError, match=r"'2026-03-29T02:30' does not exist in Europe/Oslo") as err:
        parse_instant("2026-03-29T02:30")
    assert "clocks go forward from 02:00 to 03:00 on 2026-03-29" in str(err.value)


def test_a_time_the_autumn_clock_shows_twice_needs_an_offset() -> None:
    with pytest.raises(LocalTimeError, match=r"'2026-10-25T02:30' is ambiguous in Europe/Oslo") as err:
        parse_instant("2026-10-25T02:30")
    assert "+02:00 first pass, +01:00 second" in str(err.value)


def test_both_passes_of_the_repeated_hour_are_accepted_with_their_offsets() -> None:
    first = parse_instant("2026-10-25T02:30+02:00")
    second = parse_instant("2026-10-25T02:30+01:00")
    # Same-tzinfo arithmetic in Python ignores fold, so the exact difference is taken in UTC.
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    assert second.timestamp() - first.timestamp() == 3600
    assert first.tzinfo is OSLO and second.tzinfo is OSLO
    assert (first.hour, first.minute) == (second.hour, second.minute) == (2, 30)


def test_a_utc_instant_is_converted_to_oslo() -> None:
    assert parse_instant("2026-07-01T10:00Z").hour == 12


@pytest.mark.parametrize("text", ["nonsense", "2026-13-01T10:00", "2026-05-16", "", "16.05.2026 01:30"])
def test_malformed_text_is_refused_by_name(text: str) -> None:
    with pytest.raises(LocalTimeError, match="malformed") as err:
        parse_instant(text)
    assert repr(text) in str(err.value)


def test_local_time_error_is_a_value_error() -> None:
    assert issubclass(LocalTimeError, ValueError)


# --- serving_moment, sales_moment, hhmm -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "serving_date", "minute"),
    [
        # aloven § 4-4: the skjenkedøgn runs 06:00 to 03:00 the next day.
        ("2026-05-16T01:30", date(2026, 5, 15), 1530),
        ("2026-05-16T05:59", date(2026, 5, 15), 1799),
        ("2026-05-16T06:00", date(2026, 5, 16), 360),
        ("2026-05-16T00:00", date(2026, 5, 15), 1440),
        ("2026-05-16T23:59", date(2026, 5, 16), 1439),
        # Spring: 03:00 new time is past a 02:00 closing (law.md § 3, Alta/Båtsfjord practice).
        ("2026-03-29T03:00+02:00", date(2026, 3, 28), 1620),
        ("2026-03-29T01:59+01:00", date(2026, 3, 28), 1559),
        # Autumn: serving ends the first time the clock shows the closing hour.
        ("2026-10-25T02:15+02:00", date(2026, 10, 24), 1575),
        ("2026-10-25T02:59+02:00", date(2026, 10, 24), 1619),
        # Alta, Ålesund: the repeated hour is used once, no extra hour (law.md § 3, DST practice).
        ("2026-10-25T02:00+01:00", date(2026, 10, 24), 1620),
        ("2026-10-25T02:15+01:00", date(2026, 10, 24), 1620),
        ("2026-10-25T03:00+01:00", date(2026, 10, 24), 1620),
    ],
)
def test_serving_moment(text: str, serving_date: date, minute: int) -> None:
    assert serving_moment(parse_instant(text)) == ServingMoment(serving_date, minute)


def test_serving_moment_reads_a_naive_datetime_like_parse_instant() -> None:
    assert serving_moment(datetime(2026, 5, 16, 1, 30)) == ServingMoment(date(2026, 5, 15), 1530)
    with pytest.raises(LocalTimeError, match="ambiguous"):
        serving_moment(datetime(2026, 10, 25, 2, 30))


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=24 * 60),
)
@PROPERTY
def test_serving_time_never_runs_backwards(start: datetime, minutes: int) -> None:
    # Without the autumn rule the second pass of the repeated hour would move the clock back an hour.
    earlier = serving_moment(start)
    later = serving_moment(start + timedelta(minutes=minutes))
    assert (earlier.serving_date, earlier.minute) <= (later.serving_date, later.minute)
    assert SERVING_DAY_START <= earlier.minute < SERVING_DAY_START + 24 * 60


def test_sales_moment_is_the_calendar_date_and_wall_minute() -> None:
    assert sales_moment(parse_instant("2026-05-16T01:30")) == (date(2026, 5, 16), 90)
    assert sales_moment(parse_instant("2026-12-24T15:59")) == (date(2026, 12, 24), 959)
    assert sales_moment(parse_instant("2026-10-25T02:30+01:00")) == (date(2026, 10, 25), 150)


@pytest.mark.parametrize(
    ("minute", "text"),
    [(0, "00:00"), (480, "08:00"), (1439, "23:59"), (1440, "24:00"), (1530, "01:30"), (1620, "03:00")],
)
def test_hhmm(minute: int, text: str) -> None:
    assert hhmm(minute) == text


def test_hhmm_refuses_negative_minutes() -> None:
    with pytest.raises(ValueError, match="-1"):
        hhmm(-1)
