"""RFC 9457 problem details for every error: a stable ``type`` per error, the field's
JSON pointer where one input was wrong, never a 500 for bad input."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bevilling.calendar import LocalTimeError
from bevilling.decisions.common import DecisionError, RatesMissing, RulesUnavailable

PROBLEM = "application/problem+json"
TYPE_BASE = "https://bevilling.no/problems/"


def problem(
    status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header")
        else [str(p) for p in loc]
    )
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        issues = [
            {
                "pointer": _pointer(tuple(e["loc"])),
                "in": str(e["loc"][0]) if e["loc"] else "",
                "detail": e["msg"],
            }
            for e in error.errors()
        ]
        first = issues[0] if issues else {"pointer": "/", "detail": "invalid request"}
        return problem(
            422, "invalid-input", "Invalid input", f"{first['pointer']}: {first['detail']}", errors=issues
        )

    @app.exception_handler(DecisionError)
    async def decision(_: Request, error: DecisionError) -> JSONResponse:
        status = 404 if isinstance(error, RulesUnavailable) else 422
        if isinstance(error, RatesMissing):
            status = 422
        issues = [{"pointer": "/" + error.field, "detail": str(error)}] if error.field else []
        return problem(
            status, error.code.replace("_", "-"), "The rules cannot answer this", str(error), errors=issues
        )

    @app.exception_handler(LocalTimeError)
    async def local_time(_: Request, error: LocalTimeError) -> JSONResponse:
        return problem(
            422,
            "local-time",
            "Invalid local time",
            str(error),
            errors=[{"pointer": "/at", "detail": str(error)}],
        )

    @app.exception_handler(StaleDataError)
    async def stale(_: Request, error: StaleDataError) -> JSONResponse:
        return problem(
            409, "conflict", "Changed meanwhile", "the record was changed by someone else; read it again"
        )

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, error: IntegrityError) -> JSONResponse:
        return problem(
            409, "conflict", "Conflicts with stored data", "the request conflicts with a stored record"
        )

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {
            401: "unauthenticated",
            403: "forbidden",
            404: "not-found",
            405: "method-not-allowed",
            409: "conflict",
            412: "precondition-failed",
            428: "precondition-required",
        }.get(error.status_code, f"http-{error.status_code}")
        return problem(
            error.status_code,
            code,
            str(error.detail),
            str(error.detail),
            headers=getattr(error, "headers", None),
        )
