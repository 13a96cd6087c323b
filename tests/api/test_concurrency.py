"""Controls under concurrency and failure: every control is stored whole or not at all.

Two requests at once need a server that really runs them at once, so that test runs on
PostgreSQL only (SQLite serialises writers at BEGIN). The failure test runs on both.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import app
from api.uow import UnitOfWork
from db.models import AuditEntry, Kontroll, Prikk
from tests.api.conftest import Api
from tests.api.test_kontroller import control_body, count, make_bevilling


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_controls_stored_at_the_same_instant_for_one_licence_are_both_stored_and_add_up(api: Api) -> None:
    bevilling = make_bevilling(api)
    bodies = {
        "kontrollor": control_body(bevilling, ["utenfor_tid"], place="Baren"),
        "kontrollor2": control_body(bevilling, ["apenbart_pavirket"], place="Terrassen"),
    }
    start = threading.Barrier(len(bodies))
    answers: dict[str, Any] = {}

    def post(user: str) -> None:
        with TestClient(app, raise_server_exceptions=False) as client:
            start.wait(timeout=10)
            answers[user] = client.post(
                "/kontroller",
                json=bodies[user],
                headers={"Authorization": f"Bearer {api.tokens[user]}", "Idempotency-Key": f"{user}-1"},
            )

    threads = [threading.Thread(target=post, args=(user,)) for user in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [answers[u].status_code for u in bodies] == [201, 201], [answers[u].text for u in bodies]
    assert count(api, Kontroll) == 2 and count(api, Prikk) == 2
    # Controls of one licence are serialised: the later answer includes the earlier control.
    assert sorted(answers[u].json()["bevilling"]["total"] for u in bodies) == [4, 8]
    ledger = api.get(f"/bevillinger/{bevilling}/prikker", "saksbehandler", params={"dato": "2026-05-20"})
    assert ledger.json()["total"] == 8


def test_a_failure_in_the_middle_of_storing_a_control_leaves_neither_the_control_nor_its_prikker(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    bevilling = make_bevilling(api)
    write = UnitOfWork.audit
    calls = []

    def failing_on_the_second_call(self: UnitOfWork, *args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        write(self, *args, **kwargs)

    monkeypatch.setattr(UnitOfWork, "audit", failing_on_the_second_call)
    response = api.post(
        "/kontroller",
        "kontrollor",
        json=control_body(bevilling, ["under_18", "utenfor_tid"]),
        headers={"Idempotency-Key": "retry-me"},
    )
    assert response.status_code == 500
    assert len(calls) == 2  # the control was flushed and audited, then its first prikk failed
    assert (count(api, Kontroll), count(api, Prikk), count(api, AuditEntry)) == (0, 0, 0)

    monkeypatch.setattr(UnitOfWork, "audit", write)
    retried = api.post(
        "/kontroller",
        "kontrollor",
        json=control_body(bevilling, ["under_18", "utenfor_tid"]),
        headers={"Idempotency-Key": "retry-me"},
    )
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert (count(api, Kontroll), count(api, Prikk), count(api, AuditEntry)) == (1, 2, 3)
