"""RFC 9457 problem details for every error: a stable ``type`` per error, the field's
JSON pointer where one input was wrong, never a 500 for bad input."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from bevilling.calendar import LocalTimeError
from bevilling.decisions.common import DecisionError, RatesMissing, RulesUnavailable

PROBLEM = "application/problem+json"
TYPE_BASE = "https://bevilling.no/problems/"

# The body of every error answer, as the OpenAPI schema documents it.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": TYPE_BASE + "<code>, stable per kind of error"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "each wrong input, by its JSON pointer",
            "items": {
                "type": "object",
                "required": ["pointer", "detail"],
                "properties": {
                    "pointer": {"type": "string"},
                    "in": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
        "allowed": {"type": "array", "items": {"type": "string"}},
    },
}


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry whose body is a problem (for a route's own description)."""
    return {"description": description, "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}


# Declared on every operation (``FastAPI(responses=...)``); a route may replace one with
# ``problem_response`` to describe it better. 422 replaces FastAPI's HTTPValidationError.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem_response("the body cannot be read as JSON text in UTF-8 (problems/bad-request)"),
    401: problem_response("no or an unknown bearer token (problems/unauthenticated)"),
    403: problem_response("the role or the kommune is not yours (problems/forbidden)"),
    404: problem_response("no such record in your kommuner, or no such kommune (problems/not-found)"),
    409: problem_response("conflicts with the record's state or a stored record (problems/conflict)"),
    412: problem_response("If-Match does not match the record's ETag (problems/precondition-failed)"),
    413: problem_response("the request body is too large"),
    422: problem_response("invalid input: each wrong field by its JSON pointer (problems/invalid-input)"),
    428: problem_response("send If-Match with the ETag you read (problems/precondition-required)"),
}


class ProblemResponse(JSONResponse):
    """problem+json rendered as ASCII: an error message quoting bad input (even half a
    surrogate pair) can always be encoded."""

    media_type = PROBLEM

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def problem(
    status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, **extra}
    return ProblemResponse(body, status_code=status, headers=headers)


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
        # A concurrent writer won after this request's If-Match check: the same answer as a
        # stale If-Match, whichever moment the race was lost at.
        return problem(
            412,
            "precondition-failed",
            "Changed meanwhile",
            "the record was changed by someone else since you read it; read it again",
        )

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, error: IntegrityError) -> JSONResponse:
        return problem(
            409, "conflict", "Conflicts with stored data", "the request conflicts with a stored record"
        )

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = getattr(error, "headers", None)
        if error.status_code == 405:
            # Starlette names only the first route of the path; Allow lists every method.
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        code = {
            400: "bad-request",
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
            headers=headers,
        )


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route answers on this path (asked of the routes themselves)."""
    return [
        method
        for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
