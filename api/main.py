"""The HTTP service. Thin: parse, call ``bevilling``, answer."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_problem_handlers
from api.routers import kommuner

app = FastAPI(
    title="bevilling",
    description="Salgs- og skjenkebevilling etter alkoholloven: regler som kode, med kilder.",
    version="0.1.0",
)
install_problem_handlers(app)
app.include_router(kommuner.router)


@app.get("/health", tags=["drift"])
def health() -> dict[str, str]:
    return {"status": "ok"}
