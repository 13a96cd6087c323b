"""The yearly gebyr run from the page, in the background so the page can show progress.

The run is the JSON API's: ``db.commands.run_gebyr_in`` inside ``api.uow.idempotent_post``
with the same request body as ``POST /kommuner/{kommune}/gebyr/{year}/kjoring``, so a
repeated form (same idempotency key) answers from the first run and stores nothing twice.
The only addition is the ``progress`` callback ``run_gebyr_in`` already takes.

Progress lives in this process's memory: with several worker processes, a poll that
reaches another worker finds no job and the page falls back to the stored result.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException

from api.security import Principal
from api.uow import UnitOfWork, idempotent_post
from bevilling.decisions.common import DecisionError
from bevilling.rules.book import RuleBook
from db.commands import run_gebyr_in
from db.session import session_factory

log = logging.getLogger(__name__)
KEEP = 200  # finished jobs remembered per process


@dataclass
class GebyrJob:
    id: str
    owner: str  # the session's token hash: only that session may read the job
    username: str
    kommune: str
    year: int
    state: str = "running"  # running | done | failed
    done: int = 0
    total: int = 0
    message: str = ""
    replayed: bool = False
    result: dict[str, Any] | None = None
    started: float = field(default_factory=time.monotonic)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
        }


_jobs: dict[str, GebyrJob] = {}
_by_key: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def find(job_id: str, owner: str | None) -> GebyrJob | None:
    job = _jobs.get(job_id)
    return job if job is not None and owner is not None and job.owner == owner else None


def start(
    database_url: str, book: RuleBook, principal: Principal, owner: str, kommune: str, year: int, key: str
) -> GebyrJob:
    with _lock:
        known = _by_key.get((principal.username, key))
        if known is not None and known in _jobs:
            return _jobs[known]
        job = GebyrJob(uuid.uuid4().hex, owner, principal.username, kommune, year)
        _jobs[job.id] = job
        _by_key[(principal.username, key)] = job.id
        while len(_jobs) > KEEP:
            oldest = next(iter(_jobs))
            _jobs.pop(oldest)
            for k in [k for k, v in _by_key.items() if v == oldest]:
                _by_key.pop(k)
    thread = threading.Thread(
        target=_run, args=(job, database_url, book, principal, key), name=f"gebyr-{job.id}", daemon=True
    )
    thread.start()
    return job


def _run(job: GebyrJob, database_url: str, book: RuleBook, principal: Principal, key: str) -> None:
    session = session_factory(database_url)()
    uow = UnitOfWork(session)

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    try:
        response = idempotent_post(
            uow,
            principal.username,
            key,
            {"run": "gebyr", "kommune": job.kommune, "year": job.year},
            lambda: (
                200,
                run_gebyr_in(uow.session, book, job.kommune, job.year, principal.username, progress),
            ),
        )
        job.result = json.loads(bytes(response.body))
        job.replayed = response.headers.get("Idempotent-Replayed") == "true"
        if response.status_code == 200 and job.result is not None:
            lines = len(job.result.get("lines", []))
            job.done, job.total = lines, lines
            job.state = "done"
        else:
            job.state, job.message = "failed", str(job.result)
    except (DecisionError, HTTPException) as error:
        job.state = "failed"
        job.message = str(error.detail) if isinstance(error, HTTPException) else str(error)
    except Exception:
        log.exception("gebyr run %s failed", job.id)
        job.state, job.message = "failed", "internal error; see the server log"
    finally:
        session.rollback()
        session.close()
