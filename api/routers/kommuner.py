"""Kommuner and their effective rules, read-only and public, as of a date."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import BookDep
from bevilling.decisions.common import rules_for

router = APIRouter(prefix="/kommuner", tags=["kommuner"])


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
    dato: Annotated[date | None, Query(description="rules as of (default today)")] = None,
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
