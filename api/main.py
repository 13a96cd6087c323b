"""The HTTP service. Thin: parse, call ``bevilling``, answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.deps import get_book
from api.errors import PROBLEM_RESPONSES, install_problem_handlers
from api.limits import RequestLimits
from api.routers import (
    audit,
    bevillinger,
    brukere,
    gebyr,
    kommuner,
    kontroller,
    oppgaver,
    prikker,
    revurdering,
    soknader,
)
from api.settings import get_settings
from api.web import routes as web


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Load the rule book before the first request, so /health answers only when warm."""
    get_book(get_settings())
    yield


app = FastAPI(
    lifespan=lifespan,
    title="bevilling",
    description="Salgs- og skjenkebevilling etter alkoholloven: regler som kode, med kilder.",
    version="0.1.0",
    responses=PROBLEM_RESPONSES,  # every error is a documented problem+json body
)
install_problem_handlers(app)
app.add_middleware(RequestLimits)  # body size, JSON depth, NUL-free URLs (api/limits.py)
for module in (
    kommuner,
    soknader,
    bevillinger,
    kontroller,
    prikker,
    oppgaver,
    gebyr,
    revurdering,
    brukere,
    audit,
    web,
):
    app.include_router(module.router)


@app.get("/health", tags=["drift"])
def health() -> dict[str, str]:
    return {"status": "ok"}
