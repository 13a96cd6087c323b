"""The audit log: every write, who, when, before and after. Read-only through the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import BookDep, kommune_slug
from api.schemas.soknader import utc_if_naive
from api.security import Admin, ensure_kommune
from api.uow import UowDep
from db.models import AuditEntry

router = APIRouter(prefix="/audit", tags=["revisjonslogg"])


@router.get("")
def audit_log(
    kommune: str,
    admin: Admin,
    uow: UowDep,
    book: BookDep,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    slug = kommune_slug(book, kommune)
    ensure_kommune(admin, slug)
    query = select(AuditEntry).where(AuditEntry.kommune == slug)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    rows = uow.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
    return [
        {
            "id": r.id,
            "at": utc_if_naive(r.at),
            "actor": r.actor,
            "action": r.action,
            "entity": r.entity,
            "entity_id": r.entity_id,
            "before": r.before,
            "after": r.after,
        }
        for r in rows
    ]
