"""What the pages show, computed with the domain's own functions: a licence's windows on
the coming days, its prikk timeline, and a kommune's year.

No rule is decided here. Windows come from ``bevilling.decisions.hours``; a licence's own
granted hours (from its vedtak) only narrow them. Totals come from the ledger the JSON API
computes (``api.routers.prikker.summarise``), asked as of each date where it can change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from api.schemas.bevillinger import BevillingOut
from api.schemas.prikker import PrikkOut, PrikkSummary
from api.web.i18n import MONTHS_SHORT, Labels
from bevilling.calendar import FIRST_YEAR, LAST_YEAR, day_info
from bevilling.decisions import hours
from bevilling.decisions.common import DecisionError
from bevilling.decisions.prikker import window_start
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import RuleBook
from bevilling.rules.model import Area, Licence, parse_clock, serving_minute

# --- windows on a day -------------------------------------------------------------------------

SERVING_AXIS = (6 * 60, 30 * 60)  # a skjenkedøgn: 06:00 to 06:00 the next morning
SALES_AXIS = (0, 24 * 60)


@dataclass(frozen=True)
class Span:
    start: int  # minutes on the axis (serving: minutes of the skjenkedøgn)
    end: int

    def text(self) -> str:
        # Midnight as an end is 24:00, as the rules and the vedtak write it.
        end = "24:00" if self.end == 24 * 60 else _clock(self.end)
        return f"{_clock(self.start)}–{end}"


def _clock(minute: int) -> str:
    minute %= 24 * 60
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class Track:
    """One line of a day: the groups (and area) that share a window."""

    groups: tuple[int, ...]
    area: Area | None
    span: Span | None  # None: closed
    narrowed: bool  # the licence's own hours are shorter than the rules'
    sources: tuple[str, ...]
    error: str | None = None

    def label(self, t: Labels) -> str:
        groups = (
            f"{t('group')} {self.groups[0]}"
            if len(self.groups) == 1
            else (
                f"{t('groups')} {self.groups[0]}–{self.groups[-1]}"
                if list(self.groups) == list(range(self.groups[0], self.groups[-1] + 1))
                else f"{t('groups')} {', '.join(str(g) for g in self.groups)}"
            )
        )
        return f"{groups} {t('area.' + self.area.value)}" if self.area is not None else groups


@dataclass(frozen=True)
class DayRow:
    day: date
    name: str | None
    tracks: list[Track]


def _span(from_: str | None, to: str | None, serving: bool) -> Span | None:
    if from_ is None or to is None:
        return None
    if not serving:
        start, end = parse_clock(from_), parse_clock(to)
        return Span(start, end) if end > start else None
    start, end = serving_minute(from_), serving_minute(to)
    if end <= start:
        end += 24 * 60
    return Span(start, min(end, SERVING_AXIS[1]))


def _narrow(span: Span | None, granted: Span | None) -> tuple[Span | None, bool]:
    if span is None or granted is None:
        return span, False
    start, end = max(span.start, granted.start), min(span.end, granted.end)
    if end <= start:
        return None, True
    narrowed = (start, end) != (span.start, span.end)
    return Span(start, end), narrowed


def licence_day(
    book: RuleBook,
    evaluator: Evaluator,
    licence: BevillingOut,
    day: date,
    facts: Mapping[str, Any],
) -> list[Track]:
    """The licence's windows on ``day`` per group (and area), groups with the same window merged."""
    serving = licence.licence is not Licence.SALG
    granted = {(h.group, h.area): _span(h.from_, h.to, serving) for h in licence.hours}
    areas: Sequence[Area | None] = licence.areas if serving else [None]
    found: list[tuple[int, Area | None, Span | None, bool, tuple[str, ...], str | None]] = []
    for area in areas:
        for group in sorted(licence.groups):
            try:
                if serving:
                    assert area is not None
                    answer = hours.serving_window(
                        book,
                        evaluator,
                        licence.kommune,
                        day,
                        group=group,
                        area=area,
                        venue=licence.venue,
                        zone=licence.zone,
                        facts=facts,
                    )
                else:
                    answer = hours.sales_window(
                        book, evaluator, licence.kommune, day, group=group, outlet=licence.venue, facts=facts
                    )
            except DecisionError as failed:
                found.append((group, area, None, False, (), str(failed)))
                continue
            span = _span(answer.from_, answer.to, serving)
            key = (group, area if area is not None else Area.INNE)
            span, narrowed = _narrow(span, granted.get(key))
            found.append((group, area, span, narrowed, tuple(r.source for r in answer.reasons), None))
    tracks: list[Track] = []
    for group, area, span, narrowed, sources, error in found:
        last = tracks[-1] if tracks else None
        if (
            last is not None
            and last.area == area
            and last.span == span
            and last.narrowed == narrowed
            and last.error == error
        ):
            tracks[-1] = Track(
                (*last.groups, group),
                area,
                span,
                narrowed,
                tuple(dict.fromkeys(last.sources + sources)),
                error,
            )
        else:
            tracks.append(Track((group,), area, span, narrowed, sources, error))
    return tracks


NAMED_SKIPPED = {"romjul"}


def day_name(day: date, t: Labels) -> str | None:
    info = day_info(day)
    if info.holiday_name:
        return info.holiday_name
    names = [n for tag in sorted(info.tags) if tag not in NAMED_SKIPPED and (n := t.day_name(tag))]
    return "; ".join(names) or None


def coming_days(today: date, t: Labels, week: int = 7, named: int = 6) -> tuple[list[date], list[date]]:
    """The next ``week`` days, and the next ``named`` days with a name after them (within a year)."""
    days = [today + timedelta(days=n) for n in range(week)]
    later: list[date] = []
    day = today + timedelta(days=week)
    while len(later) < named and day <= today + timedelta(days=366) and day.year <= LAST_YEAR:
        if day_name(day, t):
            later.append(day)
        day += timedelta(days=1)
    return days, later


def week_view(
    book: RuleBook,
    evaluator: Evaluator,
    licence: BevillingOut,
    today: date,
    facts: Mapping[str, Any],
    t: Labels,
) -> tuple[list[DayRow], list[DayRow]]:
    days, named = coming_days(today, t)

    def row(day: date) -> DayRow:
        return DayRow(day, day_name(day, t), licence_day(book, evaluator, licence, day, facts))

    return [row(d) for d in days], [row(d) for d in named]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    narrowed: bool
    group: int  # the highest group of the track: its colour


@dataclass(frozen=True)
class DayChart:
    """An SVG strip of one day's windows: one bar per track on a 24-hour axis."""

    width: int
    height: int
    ticks: list[tuple[float, str]]
    bars: list[Bar]
    row_height: int


def day_chart(tracks: Sequence[Track], serving: bool, width: int = 320) -> DayChart:
    low, high = SERVING_AXIS if serving else SALES_AXIS
    row = 10
    top = 14

    def x(minute: int) -> float:
        return round((minute - low) / (high - low) * width, 2)

    ticks = [(x(m), _clock(m)) for m in range(low, high + 1, 6 * 60)]
    bars = [
        Bar(
            x(tr.span.start),
            top + i * (row + 4),
            max(x(tr.span.end) - x(tr.span.start), 1.0),
            tr.narrowed,
            max(tr.groups),
        )
        for i, tr in enumerate(tracks)
        if tr.span is not None
    ]
    return DayChart(width, top + max(len(tracks), 1) * (row + 4), ticks, bars, row)


# --- the prikk timeline -----------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    points: int
    code: str
    day: date
    status: str
    counted: bool
    text: str


@dataclass
class Timeline:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    start: date
    end: date
    threshold: int
    threshold_y: float
    ymax: int
    path: str
    y_ticks: list[tuple[float, int]]
    x_ticks: list[tuple[float, str]]
    markers: list[Marker]
    steps: list[tuple[date, int]]
    total: int
    days: int
    over: bool = field(default=False)


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def timeline(
    prikker: Sequence[PrikkOut],
    summary_on: Callable[[date], PrikkSummary],
    today: date,
    window_years: int = 2,
) -> Timeline:
    """The two-year total over the window ending ``today``, stepwise: asked of the ledger at
    the window's start and at every date where it can change (a violation date, the day a
    violation leaves its two years, an overdragelse), with the prikker as markers."""
    start = window_start(today, window_years)
    changes = {start, today}
    for p in prikker:
        changes.add(p.violation_date)
        changes.add(_years_after(p.violation_date, window_years) + timedelta(days=1))
    points = sorted(d for d in changes if start <= d <= today)
    steps: list[tuple[date, int]] = []
    threshold = 12
    for d in points:
        summary = summary_on(d)
        threshold = summary.threshold
        if not steps or steps[-1][1] != summary.total or d == today:
            steps.append((d, summary.total))
    final = summary_on(today)
    width, height, left, right, top, bottom = 420, 250, 30, 14, 16, 30
    ymax = max(threshold + 4, max((s for _, s in steps), default=0) + 2)
    ymax += (-ymax) % 4
    span_days = max((today - start).days, 1)

    def x(d: date) -> float:
        return round(left + (d - start).days / span_days * (width - left - right), 2)

    def y(v: float) -> float:
        return round(top + (1 - v / ymax) * (height - top - bottom), 2)

    path = ""
    for i, (d, total) in enumerate(steps):
        path += f"M{x(d)},{y(total)}" if i == 0 else f"H{x(d)}V{y(total)}"
    path += f"H{x(today)}"
    x_ticks: list[tuple[float, str]] = []
    month = date(start.year, start.month, 1)
    while month <= today:
        if month >= start and month.month in (1, 7):
            x_ticks.append((x(month), f"{MONTHS_SHORT[month.month - 1]} {month.year % 100:02d}"))
        month = date(month.year + (month.month // 12), month.month % 12 + 1, 1)
    markers = []
    by_day: dict[date, list[PrikkOut]] = {}
    for p in prikker:
        if start <= p.violation_date <= today:
            by_day.setdefault(p.violation_date, []).append(p)
    for day, found in sorted(by_day.items()):
        level = max((v for d, v in steps if d <= day), default=0)
        counted = [p for p in found if p.status != "opphevet"]
        statuses = {p.status for p in counted} or {"opphevet"}
        status = "foreslatt" if "foreslatt" in statuses else sorted(statuses)[0]
        markers.append(
            Marker(
                x(day),
                y(level),
                sum(p.points for p in counted),
                ", ".join(p.code for p in found),
                day,
                status,
                any(p.counted for p in found),
                "; ".join(f"{p.reason.get('text', p.code)} ({p.points})" for p in found),
            )
        )
    return Timeline(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        start=start,
        end=today,
        threshold=threshold,
        threshold_y=y(threshold),
        ymax=ymax,
        path=path,
        y_ticks=[(y(v), v) for v in range(0, ymax + 1, 4)],
        x_ticks=x_ticks,
        markers=markers,
        steps=steps,
        total=final.total,
        days=final.proposal.days,
        over=final.total >= threshold,
    )


# --- a kommune's year -------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarDay:
    day: date
    weekday: int
    holiday: bool
    sunday: bool
    name: str | None
    sales: str
    serve12: str
    serve3: str


def _window_text(answer: hours.WindowAnswer, closed: str) -> str:
    return f"{answer.from_}–{answer.to}" if answer.from_ and answer.to else closed


@lru_cache(maxsize=64)
def calendar_year(
    book: RuleBook, evaluator: Evaluator, kommune: str, year: int, lang: str
) -> list[CalendarDay]:
    """Every day of ``year``: its name and the windows for beer in a shop and on an indoor
    serveringssted (groups 1–2, group 3). Cached: the rule book of a process never changes."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DecisionError(f"the calendar covers {FIRST_YEAR}–{LAST_YEAR}")
    t = Labels(lang)
    closed, missing = t("bev.hours.closed"), t("r.calendar.no_rules")
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        info = day_info(day)
        try:
            sales = _window_text(
                hours.sales_window(book, evaluator, kommune, day, group=1, outlet="butikk"), closed
            )
            serve = [
                _window_text(
                    hours.serving_window(
                        book, evaluator, kommune, day, group=g, area=Area.INNE, venue="serveringssted"
                    ),
                    closed,
                )
                for g in (1, 2, 3)
            ]
        except DecisionError:
            sales, serve = missing, [missing, missing, missing]
        serve12 = serve[0] if serve[0] == serve[1] else f"{serve[0]} / {serve[1]}"
        days.append(
            CalendarDay(
                day=day,
                weekday=day.weekday(),
                holiday=info.holiday_name is not None,
                sunday=day.weekday() == 6,
                name=day_name(day, t),
                sales=sales,
                serve12=serve12,
                serve3=serve[2],
            )
        )
        day += timedelta(days=1)
    return days
