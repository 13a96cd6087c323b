"""Users and their tokens (admin only, within the admin's own kommuner).

A token is shown once, when it is made; only its SHA-256 hash is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import BookDep, kommune_slug
from api.security import Admin, Role, ensure_kommune, hash_token, new_token, not_found
from api.uow import IdempotencyKey, UowDep, idempotent_post
from db.models import User

router = APIRouter(prefix="/brukere", tags=["brukere"])


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=2, max_length=100, pattern=r"^[a-zA-Z0-9_.@\-]+$")]
    role: Role
    kommuner: Annotated[list[str], Field(min_length=1, max_length=50)]


def _public(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "kommuner": user.kommuner,
        "active": user.active,
    }


@router.post("", status_code=201)
def create_user(body: NewUser, admin: Admin, uow: UowDep, book: BookDep, key: IdempotencyKey = None) -> Any:
    kommuner = sorted({kommune_slug(book, k) for k in body.kommuner})
    for kommune in kommuner:
        ensure_kommune(admin, kommune)

    def work() -> tuple[int, dict[str, Any]]:
        token = new_token()
        user = User(
            username=body.username, token_hash=hash_token(token), role=body.role.value, kommuner=kommuner
        )
        uow.session.add(user)
        uow.session.flush()
        uow.audit(admin.username, kommuner[0], "create", "user", user.id, after=_public(user))
        return 201, {**_public(user), "token": token}

    def without_token(payload: dict[str, Any]) -> dict[str, Any]:
        return {
            **payload,
            "token": None,
            "token_note": "the token is shown only once; deactivate and create again",
        }

    return idempotent_post(uow, admin.username, key, body.model_dump(mode="json"), work, without_token)


@router.get("")
def list_users(admin: Admin, uow: UowDep) -> list[dict[str, Any]]:
    users = uow.session.scalars(select(User).order_by(User.id)).all()
    return [_public(u) for u in users if set(u.kommuner) & admin.kommuner]


@router.post("/{user_id}/deaktiver")
def deactivate_user(
    user_id: Annotated[int, Path(ge=1, le=2**63 - 1)], admin: Admin, uow: UowDep
) -> dict[str, Any]:
    """Revoke a user's token; doing it twice changes nothing."""
    user = uow.session.get(User, user_id)
    if user is None or not set(user.kommuner) <= admin.kommuner:
        raise not_found("user", user_id)
    if user.active:
        before = _public(user)
        user.active = False
        uow.audit(
            admin.username,
            user.kommuner[0],
            "deactivate",
            "user",
            user.id,
            before=before,
            after=_public(user),
        )
        uow.commit()
    return _public(user)
