"""Who is using the pages: the bearer token in a cookie, and CSRF for every form.

A user signs in by pasting the token the JSON API takes (``api.security``); the page
stores it in an HttpOnly, SameSite=Strict cookie and every page looks the user up with
``api.security.current_principal``, the same lookup as ``Authorization: Bearer``.

CSRF: the cookie is SameSite=Strict, and every form also carries a per-session token:
an HMAC of the session's own secret (the bearer token) that only a page rendered for
that session can know. A POST whose ``Origin`` names another site is refused as well.
The login form, which has no session yet, uses a random double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from api.security import Principal, Role, current_principal, require
from api.uow import UowDep
from db.tokens import hash_token

SESSION_COOKIE = "bevilling_sesjon"
LOGIN_CSRF_COOKIE = "bevilling_login_csrf"
SESSION_SECONDS = 12 * 60 * 60
CSRF_FIELD = "csrf"
_CSRF_CONTEXT = b"bevilling-web-csrf-v1"


class LoginRequired(Exception):
    """No (valid) session: the page sends the browser to the login form."""


class CsrfFailed(Exception):
    """A form without this session's CSRF token, or from another site."""


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def session_token(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE, "").strip()
    return token or None


def session_key(request: Request) -> str | None:
    """The stored hash of the session's token: names the session without the token itself."""
    token = session_token(request)
    return hash_token(token) if token else None


def principal_for(uow: UowDep, token: str) -> Principal | None:
    try:
        return current_principal(uow, authorization=f"Bearer {token}")
    except HTTPException:
        return None


def optional_user(request: Request, uow: UowDep) -> Principal | None:
    token = session_token(request)
    return principal_for(uow, token) if token else None


def web_user(request: Request, uow: UowDep) -> Principal:
    user = optional_user(request, uow)
    if user is None:
        raise LoginRequired()
    request.state.web_user = user  # for an error page's frame
    return user


OptionalUser = Annotated[Principal | None, Depends(optional_user)]
WebUser = Annotated[Principal, Depends(web_user)]


def ensure_role(principal: Principal, *roles: Role) -> Principal:
    """The check the JSON routes get from their ``Saksbehandler``/``AnyStaff`` dependencies."""
    return require(*roles)(principal)


def _same_origin(request: Request) -> bool:
    """No ``Origin`` (an older browser), or one naming this host. The scheme is not compared:
    behind a TLS-terminating proxy the app sees http while the browser sends https."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches this session's."""
    form = await request.form()
    token = session_token(request)
    given = str(form.get(CSRF_FIELD, ""))
    if not _same_origin(request):
        raise CsrfFailed()
    if token is None:
        raise LoginRequired()
    if not hmac.compare_digest(given, csrf_token(token)):
        raise CsrfFailed()
    return form


async def login_form(request: Request) -> FormData:
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = str(form.get(CSRF_FIELD, ""))
    if not _same_origin(request) or not expected or not hmac.compare_digest(given, expected):
        raise CsrfFailed()
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
LoginForm = Annotated[FormData, Depends(login_form)]


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_login_csrf(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        max_age=60 * 60,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/web",
    )


def start_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/web",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/web")


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/web", httponly=True, samesite="strict", secure=_secure(request)
    )
