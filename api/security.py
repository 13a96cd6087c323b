"""Who is asking: per-user bearer tokens (stored as SHA-256 hashes), roles, kommune scope.

Roles: ``saksbehandler`` (applications, licences, vedtak, prikk status, oppgaver, gebyr),
``kontrollor`` (controls and what an inspector needs to see), ``admin`` (everything,
users, the audit log). Every role is limited to its kommuner; anonymous callers reach
only what the law makes public (rules, hours, the published prikk list).

A record of another kommune answers 404, exactly as a record that does not exist, so
that nobody learns what another kommune holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Header, HTTPException
from sqlalchemy import select

from api.uow import UowDep
from db.models import User
from db.tokens import hash_token, new_token

__all__ = ["hash_token", "new_token"]


class Role(StrEnum):
    SAKSBEHANDLER = "saksbehandler"
    KONTROLLOR = "kontrollor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: Role
    kommuner: frozenset[str]

    def may_see(self, kommune: str) -> bool:
        return kommune in self.kommuner


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def current_principal(uow: UowDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization:
        raise _unauthenticated("authentication required: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("the Authorization header must be 'Bearer <token>'")
    user = uow.session.scalar(select(User).where(User.token_hash == hash_token(token.strip())))
    if user is None or not user.active:
        raise _unauthenticated("unknown or revoked token")
    return Principal(user.username, Role(user.role), frozenset(user.kommuner))


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    allowed = {*roles, Role.ADMIN}

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            wanted = " or ".join(sorted(r.value for r in allowed))
            raise HTTPException(403, f"this needs the role {wanted}; you are {principal.role.value}")
        return principal

    return check


Saksbehandler = Annotated[Principal, Depends(require(Role.SAKSBEHANDLER))]
Kontrollor = Annotated[Principal, Depends(require(Role.KONTROLLOR))]
AnyStaff = Annotated[Principal, Depends(require(Role.SAKSBEHANDLER, Role.KONTROLLOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def ensure_kommune(principal: Principal, kommune: str) -> None:
    """For a kommune named in the request itself: 403 names the reason."""
    if not principal.may_see(kommune):
        raise HTTPException(403, f"you have no access to kommune '{kommune}'")


def not_found(what: str, ident: object) -> HTTPException:
    return HTTPException(404, f"{what} {ident} not found")
