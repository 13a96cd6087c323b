"""The Norwegian calendar as alcohol licensing sees it.

Implements the day kinds that the time rules of alkoholloven depend on:

* helligdager under helligdagsloven § 2 (LOV-1995-02-24-12) and the offentlige høytidsdager
  1. and 17. mai (lov 26. april 1947 nr. 1);
* the "day before a Sunday or helligdag" of alkoholloven §§ 3-4, 3-4a and 3-7, with the statutory
  exception for the day before Kristi himmelfartsdag;
* the skjenkedøgn of alkoholloven § 4-4 (06:00 to 03:00 the next day), including the municipal practice
  for the nights the clocks change (serving ends the first time the clock reaches the closing hour).

Times are read in Europe/Oslo. Minutes are wall-clock minutes, so rule files can state closing hours
as the clock shows them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "OSLO",
    "SERVING_DAY_START",
    "DayInfo",
    "DayTag",
    "LocalTimeError",
    "ServingMoment",
    "day_info",
    "days_of_year",
    "easter_sunday",
    "hhmm",
    "parse_instant",
    "sales_moment",
    "serving_moment",
]

OSLO = ZoneInfo("Europe/Oslo")
SERVING_DAY_START = 6 * 60

# 1. and 17. mai became offentlige høytidsdager in 1947; before that year the day kinds differ.
FIRST_YEAR = 1947
# The holidays package covers Norway up to 2100, and the last day of a year needs the next year.
LAST_YEAR = 2099

_MINUTES_PER_DAY = 24 * 60
_MINUTE = timedelta(minutes=1)


class DayTag(StrEnum):
    """Tags a date can carry. The values are the strings rule files use."""

    MANDAG = "mandag"
    TIRSDAG = "tirsdag"
    ONSDAG = "onsdag"
    TORSDAG = "torsdag"
    FREDAG = "fredag"
    LORDAG = "lordag"
    SONDAG = "sondag"

    # Monday–Saturday that is neither helligdag nor høytidsdag.
    HVERDAG = "hverdag"
    # Helligdagsloven § 2 days other than ordinary Sundays; 1. påskedag is both SONDAG and HELLIGDAG.
    HELLIGDAG = "helligdag"
    # 1. and 17. mai. Not helligdager, so a rule that names them must say so.
    HOYTIDSDAG = "hoytidsdag"
    # Tomorrow is a Sunday or helligdag, but not Kristi himmelfartsdag (aloven § 3-7 second sentence).
    DAG_FOR_SONDAG_ELLER_HELLIGDAG = "dag_for_sondag_eller_helligdag"
    DAG_FOR_HOYTIDSDAG = "dag_for_hoytidsdag"
    # Today is not a hverdag and tomorrow is: the last day of a run of rest days.
    SISTE_HELLIGDAG_FOR_VIRKEDAG = "siste_helligdag_for_virkedag"

    NYTTARSDAG = "nyttarsdag"
    ONSDAG_FOR_SKJAERTORSDAG = "onsdag_for_skjaertorsdag"
    SKJAERTORSDAG = "skjaertorsdag"
    LANGFREDAG = "langfredag"
    PAASKEAFTEN = "paaskeaften"
    PAASKEDAG1 = "1paaskedag"
    PAASKEDAG2 = "2paaskedag"
    DAG_FOR_KRISTI_HIMMELFART = "dag_for_kristi_himmelfart"
    KRISTI_HIMMELFARTSDAG = "kristi_himmelfartsdag"
    PINSEAFTEN = "pinseaften"
    PINSEDAG1 = "1pinsedag"
    PINSEDAG2 = "2pinsedag"
    DAG_FOR_1MAI = "dag_for_1mai"
    MAI1 = "1mai"
    DAG_FOR_17MAI = "dag_for_17mai"
    MAI17 = "17mai"
    JULAFTEN = "julaften"
    JULEDAG1 = "1juledag"
    JULEDAG2 = "2juledag"
    ROMJUL = "romjul"  # 27–30 December
    NYTTARSAFTEN = "nyttarsaften"

    # On the serving day whose night (after midnight) has the clock change.
    SOMMERTID_NATT = "sommertid_natt"
    VINTERTID_NATT = "vintertid_natt"


_WEEKDAY_TAGS: tuple[DayTag, ...] = (
    DayTag.MANDAG,
    DayTag.TIRSDAG,
    DayTag.ONSDAG,
    DayTag.TORSDAG,
    DayTag.FREDAG,
    DayTag.LORDAG,
    DayTag.SONDAG,
)

_SUNDAY = 6

# Offsets from 1. påskedag (law.md § 2.2).
_EASTER_OFFSETS: dict[int, DayTag] = {
    -4: DayTag.ONSDAG_FOR_SKJAERTORSDAG,
    -3: DayTag.SKJAERTORSDAG,
    -2: DayTag.LANGFREDAG,
    -1: DayTag.PAASKEAFTEN,
    0: DayTag.PAASKEDAG1,
    1: DayTag.PAASKEDAG2,
    38: DayTag.DAG_FOR_KRISTI_HIMMELFART,
    39: DayTag.KRISTI_HIMMELFARTSDAG,
    48: DayTag.PINSEAFTEN,
    49: DayTag.PINSEDAG1,
    50: DayTag.PINSEDAG2,
}

_FIXED_NAMED: dict[tuple[int, int], DayTag] = {
    (1, 1): DayTag.NYTTARSDAG,
    (4, 30): DayTag.DAG_FOR_1MAI,
    (5, 1): DayTag.MAI1,
    (5, 16): DayTag.DAG_FOR_17MAI,
    (5, 17): DayTag.MAI17,
    (12, 24): DayTag.JULAFTEN,
    (12, 25): DayTag.JULEDAG1,
    (12, 26): DayTag.JULEDAG2,
    (12, 27): DayTag.ROMJUL,
    (12, 28): DayTag.ROMJUL,
    (12, 29): DayTag.ROMJUL,
    (12, 30): DayTag.ROMJUL,
    (12, 31): DayTag.NYTTARSAFTEN,
}

_HOYTIDSDAGER: frozenset[tuple[int, int]] = frozenset({(5, 1), (5, 17)})


@dataclass(frozen=True, slots=True)
class DayInfo:
    """A date with its tags; holiday_name is the Norwegian name of a helligdag/høytidsdag, else None."""

    date: date
    tags: frozenset[DayTag]
    holiday_name: str | None

    def has(self, tag: DayTag) -> bool:
        return tag in self.tags


def easter_sunday(year: int) -> date:
    """1. påskedag by the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a date is by itself, before looking at its neighbours."""

    weekday: int
    helligdag: bool
    hoytidsdag: bool
    named: frozenset[DayTag]
    holiday_name: str | None


@functools.lru_cache(maxsize=256)
def _holiday_names(year: int) -> dict[date, tuple[str, ...]]:
    # Sundays are left out so that HELLIGDAG marks only the named days; SONDAG covers the rest.
    table = holidays.country_holidays("NO", years=year, language="no", include_sundays=False)
    return {d: tuple(table.get_list(d)) for d in table}


@functools.lru_cache(maxsize=256)
def _named_days(year: int) -> dict[date, frozenset[DayTag]]:
    named: dict[date, set[DayTag]] = {}
    easter = easter_sunday(year)
    for offset, tag in _EASTER_OFFSETS.items():
        named.setdefault(easter + timedelta(days=offset), set()).add(tag)
    for (month, day), tag in _FIXED_NAMED.items():
        named.setdefault(date(year, month, day), set()).add(tag)
    return {d: frozenset(tags) for d, tags in named.items()}


def _check_year(d: date) -> None:
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise ValueError(f"{d.isoformat()} is outside the supported years {FIRST_YEAR}–{LAST_YEAR}")


@functools.lru_cache(maxsize=4096)
def _facts(d: date) -> _Facts:
    names = _holiday_names(d.year).get(d, ())
    hoytidsdag = (d.month, d.day) in _HOYTIDSDAGER
    # The package lists 1./17. mai among its public holidays; a høytidsdag is only also a helligdag
    # when a movable helligdag falls on it (17 May 2027 is 2. pinsedag, 1 May 2008 was KHF),
    # and then the package gives that date a second name.
    helligdag = len(names) > 1 if hoytidsdag else bool(names)
    return _Facts(
        weekday=d.weekday(),
        helligdag=helligdag,
        hoytidsdag=hoytidsdag,
        named=_named_days(d.year).get(d, frozenset()),
        holiday_name="; ".join(names) if names else None,
    )


def _utc_offset(local_wall: datetime) -> timedelta:
    offset = local_wall.replace(tzinfo=OSLO).utcoffset()
    assert offset is not None  # ZoneInfo always answers for an aware datetime
    return offset


def _dst_tag(d: date) -> DayTag | None:
    # The serving day runs from 06:00 to 06:00 the next morning; Oslo's clocks only change inside it
    # during the night, so comparing the offsets at both ends finds the change without knowing the date.
    start = datetime(d.year, d.month, d.day) + timedelta(minutes=SERVING_DAY_START)
    before = _utc_offset(start)
    after = _utc_offset(start + timedelta(days=1))
    if after > before:
        return DayTag.SOMMERTID_NATT
    if after < before:
        return DayTag.VINTERTID_NATT
    return None


@functools.lru_cache(maxsize=4096)
def day_info(d: date) -> DayInfo:
    """The tags of a date. Raises ValueError outside FIRST_YEAR..LAST_YEAR."""
    _check_year(d)
    today = _facts(d)
    tomorrow_date = d + timedelta(days=1)
    tomorrow = _facts(tomorrow_date)

    tags: set[DayTag] = {_WEEKDAY_TAGS[today.weekday], *today.named}
    today_hverdag = today.weekday != _SUNDAY and not today.helligdag and not today.hoytidsdag
    tomorrow_hverdag = tomorrow.weekday != _SUNDAY and not tomorrow.helligdag and not tomorrow.hoytidsdag
    if today_hverdag:
        tags.add(DayTag.HVERDAG)
    if today.helligdag:
        tags.add(DayTag.HELLIGDAG)
    if today.hoytidsdag:
        tags.add(DayTag.HOYTIDSDAG)
    # Alkoholloven § 3-7 (and §§ 3-4, 3-4a): the day before Kristi himmelfartsdag keeps weekday hours.
    # 1./17. mai are not helligdager, so the day before them only counts when tomorrow is also one.
    if (
        tomorrow.weekday == _SUNDAY or tomorrow.helligdag
    ) and DayTag.KRISTI_HIMMELFARTSDAG not in tomorrow.named:
        tags.add(DayTag.DAG_FOR_SONDAG_ELLER_HELLIGDAG)
    if tomorrow.hoytidsdag:
        tags.add(DayTag.DAG_FOR_HOYTIDSDAG)
    if not today_hverdag and tomorrow_hverdag:
        tags.add(DayTag.SISTE_HELLIGDAG_FOR_VIRKEDAG)
    dst = _dst_tag(d)
    if dst is not None:
        tags.add(dst)
    return DayInfo(date=d, tags=frozenset(tags), holiday_name=today.holiday_name)


@functools.lru_cache(maxsize=64)
def days_of_year(year: int) -> tuple[DayInfo, ...]:
    first = date(year, 1, 1)
    count = (date(year + 1, 1, 1) - first).days
    return tuple(day_info(first + timedelta(days=n)) for n in range(count))


class LocalTimeError(ValueError):
    """A time text that does not name exactly one instant in Europe/Oslo."""


def _first_utc_with_offset(lo: datetime, hi: datetime, offset: timedelta) -> datetime:
    """First whole UTC minute in (lo, hi] where Oslo's offset is `offset`; the change lies in that range."""
    lo_min = int(lo.timestamp()) // 60
    hi_min = -(-int(hi.timestamp()) // 60)
    while hi_min - lo_min > 1:
        mid = (lo_min + hi_min) // 2
        if datetime.fromtimestamp(mid * 60, OSLO).utcoffset() == offset:
            hi_min = mid
        else:
            lo_min = mid
    return datetime.fromtimestamp(hi_min * 60, UTC)


def _hm(t: datetime) -> str:
    return t.strftime("%H:%M")


def _localize(text: str, wall: datetime) -> datetime:
    """Attach Europe/Oslo to a naive wall time, refusing times the clock skips or shows twice."""
    first = wall.replace(tzinfo=OSLO, fold=0)
    second = wall.replace(tzinfo=OSLO, fold=1)
    first_offset = first.utcoffset()
    second_offset = second.utcoffset()
    assert first_offset is not None and second_offset is not None
    if first_offset == second_offset:
        return first
    # zoneinfo resolves both folds by arithmetic; only a time the clock really shows survives a round trip.
    if first.astimezone(UTC).astimezone(OSLO).replace(tzinfo=None) != wall:
        change = _first_utc_with_offset(
            wall.replace(tzinfo=UTC) - second_offset,
            wall.replace(tzinfo=UTC) - first_offset,
            second_offset,
        )
        gap_start = change + first_offset
        gap_end = change + second_offset
        raise LocalTimeError(
            f"{text!r} does not exist in Europe/Oslo (clocks go forward from {_hm(gap_start)} to "
            f"{_hm(gap_end)} on {gap_start.date().isoformat()})"
        )
    raise LocalTimeError(
        f"{text!r} is ambiguous in Europe/Oslo; give the UTC offset "
        f"({_offset_text(first_offset)} first pass, {_offset_text(second_offset)} second)"
    )


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date-time as an aware datetime in Europe/Oslo.

    Without an offset the text is Oslo wall time and must name exactly one instant;
    with an offset (or Z) it is that exact instant.

    Python compares and subtracts two datetimes with the same tzinfo by wall clock, ignoring fold:
    02:30+02:00 and 02:30+01:00 on the autumn night come back equal. Compare instants in UTC
    (or via serving_moment), never with == or - on the returned values directly.
    """
    stripped = text.strip()
    try:
        date.fromisoformat(stripped)
    except ValueError:
        pass
    else:
        raise LocalTimeError(f"{text!r} is malformed: a date without a time of day is not an instant")
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError as exc:
        raise LocalTimeError(
            f"{text!r} is malformed: expected ISO 8601 like 2026-05-16T01:30 or 2026-10-25T02:30+01:00"
        ) from exc
    if parsed.tzinfo is None:
        return _localize(text, parsed)
    return parsed.astimezone(OSLO)


def _in_oslo(instant: datetime) -> datetime:
    # A naive datetime gets the same reading as a naive text in parse_instant, never a silent guess.
    if instant.tzinfo is None:
        return _localize(instant.isoformat(), instant)
    return instant.astimezone(OSLO)


@dataclass(frozen=True, slots=True)
class ServingMoment:
    """The skjenkedøgn an instant belongs to and the wall-clock minutes since its 00:00.

    01:30 the next morning is minute 1530.
    """

    serving_date: date
    minute: int


def _wall_minute(t: datetime) -> int:
    return t.hour * 60 + t.minute


def serving_moment(instant: datetime) -> ServingMoment:
    """Which skjenkedøgn (aloven § 4-4) an instant belongs to, and how far into it the clock is.

    On the autumn night the clock shows 02:00–02:59 twice. Municipal practice (Alta, Ålesund,
    Båtsfjord) is that the hour is used once: serving ends the first time the clock reaches the
    closing hour, and there is no extra hour. So the whole second pass counts as 03:00 on the
    first pass's clock — the moment the clocks went back — which every closing time up to the
    03:00 maximum has reached.
    """
    local = _in_oslo(instant)
    first_pass_offset = local.replace(fold=0).utcoffset()
    if local.fold == 1 and first_pass_offset != local.utcoffset():
        assert first_pass_offset is not None
        offset = local.utcoffset()
        assert offset is not None
        utc = local.astimezone(UTC)
        change = _first_utc_with_offset(utc - (first_pass_offset - offset), utc, offset)
        # Wall time of the change on the first pass's clock: 03:00 summer time.
        local = (change + first_pass_offset).replace(tzinfo=None)
    wall = _wall_minute(local)
    if wall < SERVING_DAY_START:
        return ServingMoment(local.date() - timedelta(days=1), wall + _MINUTES_PER_DAY)
    return ServingMoment(local.date(), wall)


def sales_moment(instant: datetime) -> tuple[date, int]:
    """Calendar date and wall-clock minute; sales hours never cross midnight."""
    local = _in_oslo(instant)
    return local.date(), _wall_minute(local)


def hhmm(minute: int) -> str:
    """Clock text for a minute count: 1530 -> "01:30"; exactly 1440 is "24:00" (end of day)."""
    if minute < 0:
        raise ValueError(f"minute must not be negative, got {minute}")
    if minute == _MINUTES_PER_DAY:
        return "24:00"
    hours, mins = divmod(minute % _MINUTES_PER_DAY, 60)
    return f"{hours:02d}:{mins:02d}"
