"""Templates, the page frame's context, and error pages instead of problem JSON."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from api.security import Principal, Role
from api.web.auth import CsrfFailed, LoginRequired, csrf_token, session_token
from api.web.i18n import Labels, kroner, long_date, nbdate
from bevilling.decisions.common import DecisionError

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["nbdate"] = nbdate
templates.env.filters["kroner"] = kroner


@cache
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    return f"/web/static/{name}?v={_static_version(name)}"


templates.env.globals["static_url"] = static_url


def page(
    request: Request,
    name: str,
    user: Principal | None,
    lang: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page in the frame: language, user, navigation, CSRF token."""
    lang = lang or "nb"
    token = session_token(request)
    t = Labels(lang)
    context.update(
        request=request,
        lang=lang,
        t=t,
        user=user,
        nav=navigation(user, request.url.path),
        csrf=csrf_token(token) if token and user is not None else "",
        long_date=lambda d: long_date(d, lang),
    )
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response


def navigation(user: Principal | None, path: str) -> list[dict[str, Any]]:
    items: list[tuple[str, str]] = []
    if user is not None:
        items += [("/web/kontroll", "nav.kontroll"), ("/web/bevillinger", "nav.bevillinger")]
        if user.role in (Role.SAKSBEHANDLER, Role.ADMIN):
            items += [("/web/soknader", "nav.soknader"), ("/web/gebyr", "nav.gebyr")]
        items.append(("/web/kontroller", "nav.kontroller"))
    items.append(("/web/regler", "nav.regler"))
    return [
        {"href": href, "key": key, "current": path == href or path.startswith(href + "/")}
        for href, key in items
    ]


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/web/logg-inn?neste={quote(target, safe='')}", status_code=303)


def error_page(request: Request, status: int, detail: str = "") -> HTMLResponse:
    known = status if status in (401, 403, 404, 409, 422) else None
    return page(
        request,
        "error.html",
        getattr(request.state, "web_user", None),
        status_code=status,
        status=status,
        message_key=f"error.{known}" if known else "error.title",
        detail=detail,
    )


class WebRoute(APIRoute):
    """A page route: a missing session goes to the login form, errors are pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return login_redirect(request)
            except CsrfFailed:
                return error_page(request, 403, Labels("nb")("csrf"))
            except HTTPException as error:
                if error.status_code == 401:
                    return login_redirect(request)
                return error_page(request, error.status_code, str(error.detail))
            except RequestValidationError as error:
                return error_page(request, 404 if _bad_path(error) else 422)
            except DecisionError as error:
                return error_page(request, 422, str(error))

        return page_handler


def _bad_path(error: RequestValidationError) -> bool:
    return any(e.get("loc", ("",))[0] == "path" for e in error.errors())
