"""The HTTP service. Thin: parse, call ``bevilling``, answer."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_problem_handlers
from api.web import routes as web
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

app = FastAPI(
    title="bevilling",
    description="Salgs- og skjenkebevilling etter alkoholloven: regler som kode, med kilder.",
    version="0.1.0",
)
install_problem_handlers(app)
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
):
    app.include_router(module.router)


@app.get("/health", tags=["drift"])
def health() -> dict[str, str]:
    return {"status": "ok"}
