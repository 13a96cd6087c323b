"""The request's unit of work, idempotent POSTs, the audit trail and optimistic locking.

A handler does its reads and writes through ``uow.session`` and calls ``uow.commit``
once: the record, its audit entry and the idempotency record land together or not at
all. A POST that carries an ``Idempotency-Key`` and is retried (same caller, same key)
gets the first answer back and creates nothing twice; the same key with a different
body is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.settings import Settings, get_settings
from db.models import AuditEntry, IdempotencyRecord
from db.session import session_factory

MAX_KEY_LENGTH = 200


@dataclass
class UnitOfWork:
    session: Session

    def commit(self) -> None:
        self.session.commit()

    def audit(
        self,
        actor: str,
        kommune: str | None,
        action: str,
        entity: str,
        entity_id: object,
        before: Any = None,
        after: Any = None,
    ) -> None:
        self.session.add(
            AuditEntry(
                actor=actor,
                kommune=kommune,
                action=action,
                entity=entity,
                entity_id=str(entity_id),
                before=jsonable_encoder(before) if before is not None else None,
                after=jsonable_encoder(after) if after is not None else None,
            )
        )


def get_uow(settings: Annotated[Settings, Depends(get_settings)]) -> Iterator[UnitOfWork]:
    session = session_factory(settings.database_url)()
    try:
        yield UnitOfWork(session)
    finally:
        session.rollback()
        session.close()


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=MAX_KEY_LENGTH)]


def _request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(jsonable_encoder(body), sort_keys=True).encode()).hexdigest()


def _replay(session: Session, actor: str, key: str, request_hash: str) -> JSONResponse | None:
    record = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.actor == actor, IdempotencyRecord.key == key)
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise HTTPException(422, f"Idempotency-Key '{key}' was already used for a different request")
    return JSONResponse(
        record.response["body"], status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
    )


def idempotent_post(
    uow: UnitOfWork,
    actor: str,
    key: str | None,
    body: Any,
    work: Callable[[], tuple[int, Any]],
    remembered: Callable[[Any], Any] = lambda payload: payload,
) -> JSONResponse:
    """Run ``work`` (which writes through ``uow`` but does not commit) exactly once per key.

    ``remembered`` picks what a replay may show again: a secret shown once (a new token)
    is answered the first time and never stored.
    """
    request_hash = _request_hash(body)
    if key:
        replay = _replay(uow.session, actor, key, request_hash)
        if replay is not None:
            return replay
    status, result = work()
    payload = jsonable_encoder(result)
    if key:
        uow.session.add(
            IdempotencyRecord(
                actor=actor,
                key=key,
                request_hash=request_hash,
                status_code=status,
                response={"body": remembered(payload)},
            )
        )
    try:
        uow.commit()
    except IntegrityError:
        # A concurrent retry with the same key committed first: answer as it did.
        uow.session.rollback()
        if key:
            replay = _replay(uow.session, actor, key, request_hash)
            if replay is not None:
                return replay
        raise
    return JSONResponse(payload, status_code=status)


def etag(version: int) -> str:
    return f'W/"{version}"'


def check_if_match(request: Request, version: int) -> None:
    """Optimistic locking for updates: the client must send the ETag it last read."""
    given = request.headers.get("If-Match")
    if given is None:
        raise HTTPException(428, "send If-Match with the ETag you last read (optimistic locking)")
    if given.strip() not in (etag(version), f'"{version}"', "*"):
        raise HTTPException(412, f"the record changed since you read it: it is now at {etag(version)}")
