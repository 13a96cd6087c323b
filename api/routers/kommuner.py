"""Kommuner, their effective rules and their hours: public, read-only, as of a date."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import BookDep, EvaluatorDep, kommune_slug
from api.schemas.soknader import CalendarDay, IsoDate, calendar_instant
from bevilling.decisions import hours
from bevilling.decisions.common import rules_for
from bevilling.rules.model import Area

router = APIRouter(prefix="/kommuner", tags=["kommuner og regler"])

Group = Annotated[int, Query(ge=1, le=3, description="alkoholgruppe 1, 2 eller 3")]
At = Annotated[str, Query(description="local time, e.g. 2026-05-16T01:30, or with offset on DST nights")]


@router.get("")
def list_kommuner(book: BookDep) -> list[dict[str, Any]]:
    return [
        {"kommunenummer": m.kommunenummer, "slug": m.slug, "name": m.name, "valid_from": m.valid_from}
        for m in book.kommuner()
    ]


@router.get("/{kommune}/regler")
def effective_rules(
    kommune: str,
    book: BookDep,
    dato: Annotated[IsoDate | None, Query(description="rules as of (default today)")] = None,
) -> dict[str, Any]:
    rules = rules_for(book, kommune, dato or date.today())
    return {
        "kommune": rules.slug,
        "kommunenummer": rules.kommunenummer,
        "name": rules.name,
        "as_of": rules.on,
        "version": rules.version,
        "files": [f.path.rsplit("/rules/", 1)[-1] for f in rules.files],
        "silent": list(rules.silent),
        "rules": [
            {
                "id": p.id,
                "kind": p.kind,
                "level": p.origin.level.value,
                "rule": p.rule.model_dump(mode="json", by_alias=True, exclude_none=True),
                "source": p.citation(),
                "url": p.source.url,
                "valid_from": p.valid_from,
                "valid_to": p.valid_to,
            }
            for p in rules.rules
        ],
    }


@router.get("/{kommune}/salg/tillatt", response_model=hours.HoursAnswer)
def sales_allowed(
    kommune: str, book: BookDep, evaluator: EvaluatorDep, at: At, group: Group = 1, outlet: str = "butikk"
) -> hours.HoursAnswer:
    """Is sale allowed at this instant (alkoholloven § 3-7, § 3-4)?"""
    return hours.sales_allowed(
        book, evaluator, kommune_slug(book, kommune), calendar_instant(at), group=group, outlet=outlet
    )


@router.get("/{kommune}/skjenking/tillatt", response_model=hours.HoursAnswer)
def serving_allowed(
    kommune: str,
    book: BookDep,
    evaluator: EvaluatorDep,
    at: At,
    group: Group,
    venue: str = "serveringssted",
    area: Area = Area.INNE,
    zone: str | None = None,
) -> hours.HoursAnswer:
    """Is serving allowed at this instant (alkoholloven § 4-4)?"""
    return hours.serving_allowed(
        book,
        evaluator,
        kommune_slug(book, kommune),
        calendar_instant(at),
        group=group,
        area=area,
        venue=venue,
        zone=zone,
    )


@router.get("/{kommune}/salgstid", response_model=hours.WindowAnswer)
def sales_window(
    kommune: str,
    book: BookDep,
    evaluator: EvaluatorDep,
    dato: CalendarDay,
    group: Group = 1,
    outlet: str = "butikk",
) -> hours.WindowAnswer:
    return hours.sales_window(book, evaluator, kommune_slug(book, kommune), dato, group=group, outlet=outlet)


@router.get("/{kommune}/skjenketid", response_model=hours.WindowAnswer)
def serving_window(
    kommune: str,
    book: BookDep,
    evaluator: EvaluatorDep,
    dato: CalendarDay,
    group: Group,
    venue: str = "serveringssted",
    area: Area = Area.INNE,
    zone: str | None = None,
) -> hours.WindowAnswer:
    """The serving window of a skjenkedøgn; a `to` at or before `from` is the next morning."""
    return hours.serving_window(
        book, evaluator, kommune_slug(book, kommune), dato, group=group, area=area, venue=venue, zone=zone
    )
