"""Kontroller (alkoholforskriften kapittel 9) and the prikker they propose (kapittel 10).

Bevillinger are written straight into the database with ``make_bevilling``: the routes
that grant them are not under test here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from db.models import AuditEntry, Base, Bevilling, Kontroll, Prikk
from db.session import session_factory
from tests.api.conftest import Api

PROBLEM = "application/problem+json"
KONTROLLORER = ["Kari Nordmann", "Ola Hansen"]


def make_bevilling(
    api: Api,
    *,
    kommune: str = "nord-aurdal",
    licence: str = "skjenking",
    holder: str = "Fjellstua Drift AS",
    orgnr: str | None = "912345678",
    place_name: str = "Fjellstua",
    valid_from: date = date(2020, 1, 1),
    valid_to: date = date(2028, 9, 30),
    overdratt_on: date | None = None,
    vedtak: dict[str, Any] | None = None,
) -> int:
    session = session_factory(api.database_url)()
    try:
        row = Bevilling(
            kommune=kommune,
            licence=licence,
            holder=holder,
            orgnr=orgnr,
            place_name=place_name,
            address="Storgata 1, 2900 Fagernes",
            venue="serveringssted",
            zone=None,
            styrer="Per Styrer",
            stedfortreder="Siri Stedfortreder",
            groups=[1, 2, 3],
            areas=["inne"],
            hours=[],
            conditions=[],
            valid_from=valid_from,
            valid_to=valid_to,
            overdratt_on=overdratt_on,
            vedtak=vedtak or {},
        )
        session.add(row)
        session.commit()
        return row.id
    finally:
        session.close()


def control_body(bevilling_id: int, violations: list[str], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "bevilling_id": bevilling_id,
        "at": "2026-05-16T01:30",
        "kind": "skjenking",
        "place": "Baren i 1. etasje",
        "kontrollorer": KONTROLLORER,
        "observations": "Gjest født 2009 fikk servert øl; skjenking pågikk etter 02:00.",
        "violations": violations,
    }
    body.update(changes)
    return body


def post_control(
    api: Api, bevilling_id: int, violations: list[str], user: str = "kontrollor", **changes: Any
) -> Any:
    return api.post("/kontroller", user, json=control_body(bevilling_id, violations, **changes))


def count(api: Api, model: type[Base]) -> int:
    session = session_factory(api.database_url)()
    try:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        session.close()


def stored(api: Api) -> tuple[int, int, int]:
    return count(api, Kontroll), count(api, Prikk), count(api, AuditEntry)


def pointers(response: Any) -> list[str]:
    return [e["pointer"] for e in response.json().get("errors", [])]


def test_a_control_with_under_18_and_utenfor_tid_gives_12_points_and_a_week_of_inndragning(api: Api) -> None:
    bevilling = make_bevilling(api)
    response = post_control(api, bevilling, ["under_18", "utenfor_tid"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert sorted((p["code"], p["points"], p["status"]) for p in body["prikker"]) == [
        ("under_18", 8, "foreslatt"),
        ("utenfor_tid", 4, "foreslatt"),
    ]
    assert {p["violation_date"] for p in body["prikker"]} == {"2026-05-16"}
    assert body["assessment"]["points"] == 12
    assert body["ruleset_version"] == body["assessment"]["ruleset"]["version"]
    summary = body["bevilling"]
    assert (summary["total"], summary["threshold"]) == (12, 12)
    assert sorted(summary["counted"]) == sorted(p["id"] for p in body["prikker"])
    block = summary["inndragning"]
    assert block["days"] == 7
    varsel = block["forhandsvarsel"]
    assert "alkoholforskriften § 10-2" in varsel
    assert "Nord-Aurdal kommune" in varsel and "Fjellstua" in varsel
    for violation in block["violations"]:
        assert violation["text"] in varsel and violation["hjemmel"] in varsel
    assert {v["code"] for v in block["violations"]} == {"under_18", "utenfor_tid"}
    assert "alkoholloven § 1-5 andre ledd" in varsel and "alkoholloven §§ 3-7 og 4-4" in varsel
    # The control, its two prikker and an audit entry for each, together.
    assert stored(api) == (1, 2, 3)


def test_the_same_code_twice_at_one_control_counts_once(api: Api) -> None:
    bevilling = make_bevilling(api)
    response = post_control(api, bevilling, ["apenbart_pavirket", "apenbart_pavirket"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert [(p["code"], p["points"]) for p in body["prikker"]] == [("apenbart_pavirket", 4)]
    assert body["violations"] == ["apenbart_pavirket", "apenbart_pavirket"]
    assert body["bevilling"]["total"] == 4
    assert body["bevilling"]["inndragning"] is None


def test_a_skjenkekontroll_with_one_kontrollor_is_refused_and_nothing_is_stored(api: Api) -> None:
    bevilling = make_bevilling(api)
    for names in (["Kari Nordmann"], ["Kari Nordmann", "  kari   NORDMANN "]):
        response = post_control(api, bevilling, ["under_18"], kontrollorer=names)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert pointers(response) == ["/kontrollorer"]
        assert "alkoholforskriften § 9-5" in response.json()["detail"]
    assert stored(api) == (0, 0, 0)


def test_a_salgskontroll_may_have_one_kontrollor_but_a_skjenkebevilling_gets_no_salgskontroll(
    api: Api,
) -> None:
    skjenking = make_bevilling(api)
    response = post_control(api, skjenking, [], kind="salg", kontrollorer=["Kari Nordmann"])
    assert response.status_code == 422
    assert pointers(response) == ["/kind"]
    assert stored(api) == (0, 0, 0)
    salg = make_bevilling(api, licence="salg", place_name="Joker Fagernes")
    response = post_control(api, salg, ["under_18"], kind="salg", kontrollorer=["Kari Nordmann"])
    assert response.status_code == 201, response.text
    assert response.json()["bevilling"]["total"] == 8


def test_an_unknown_violation_code_is_a_problem_naming_its_index(api: Api) -> None:
    bevilling = make_bevilling(api)
    response = post_control(api, bevilling, ["under_18", "for_hoy_musikk"])
    assert response.status_code == 422
    assert response.json()["type"].endswith("/unknown-violation")
    assert pointers(response) == ["/violations/1"]
    assert stored(api) == (0, 0, 0)


def test_the_control_time_is_oslo_time_and_an_ambiguous_dst_time_is_a_problem_naming_at(api: Api) -> None:
    bevilling = make_bevilling(api)
    response = post_control(api, bevilling, [], at="2026-10-25T02:30")
    assert response.status_code == 422
    assert pointers(response) == ["/at"]
    assert "ambiguous" in response.json()["detail"]
    response = post_control(api, bevilling, [], at="2026-10-25T02:30+01:00")
    assert response.status_code == 201, response.text
    assert response.json()["at"] == "2026-10-25T02:30:00+01:00"
    # An instant in UTC: the control date (and the prikker's violation date) is Oslo's.
    response = post_control(api, bevilling, ["utenfor_tid"], at="2026-05-16T22:30:00Z")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["at"] == "2026-05-17T00:30:00+02:00"
    assert body["prikker"][0]["violation_date"] == "2026-05-17"
    # Read back (SQLite keeps no offset): the same instant.
    assert api.get(f"/kontroller/{body['id']}", "saksbehandler").json()["at"] == "2026-05-17T00:30:00+02:00"


def test_a_bevilling_for_en_enkelt_anledning_gets_no_prikker_and_the_assessment_says_why(api: Api) -> None:
    bevilling = make_bevilling(api, licence="enkeltanledning")
    response = post_control(api, bevilling, ["under_18"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["prikker"] == []
    assert body["assessment"]["applies"] is False
    assert body["assessment"]["reasons"][0]["hjemmel"] == "alkoholforskriften § 10-1"
    assert body["bevilling"]["total"] == 0
    assert stored(api) == (1, 0, 1)


def test_a_control_outside_the_bevillings_period_or_in_the_future_is_refused(api: Api) -> None:
    bevilling = make_bevilling(api, valid_from=date(2026, 6, 1))
    assert pointers(post_control(api, bevilling, [], at="2026-05-16T01:30")) == ["/at"]
    assert pointers(post_control(api, bevilling, [], at="2999-05-16T01:30")) == ["/at"]
    assert stored(api) == (0, 0, 0)


def test_an_idempotent_retry_creates_one_control_and_one_set_of_prikker(api: Api) -> None:
    bevilling = make_bevilling(api)
    body = control_body(bevilling, ["under_18", "utenfor_tid"])
    key = {"Idempotency-Key": "kontroll-2026-05-16-fjellstua"}
    first = api.post("/kontroller", "kontrollor", json=body, headers=key)
    again = api.post("/kontroller", "kontrollor", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert count(api, Kontroll) == 1 and count(api, Prikk) == 2
    other = api.post("/kontroller", "kontrollor", json={**body, "place": "Terrassen"}, headers=key)
    assert other.status_code == 422
    assert count(api, Kontroll) == 1


def test_a_vennesla_kontrollor_cannot_create_a_control_on_a_nord_aurdal_licence(api: Api) -> None:
    bevilling = make_bevilling(api)
    response = post_control(api, bevilling, ["under_18"], user="vennesla_kontrollor")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert stored(api) == (0, 0, 0)


def test_every_control_route_hides_another_kommunes_records(api: Api) -> None:
    bevilling = make_bevilling(api)
    kontroll = post_control(api, bevilling, ["under_18"]).json()["id"]
    for user in ("vennesla_kontrollor", "vennesla_saksbehandler", "vennesla_admin"):
        assert post_control(api, bevilling, [], user=user).status_code == 404
        assert api.get(f"/kontroller/{kontroll}", user).status_code == 404
        assert api.get("/kontroller", user, params={"bevilling_id": bevilling}).status_code == 404
        assert api.get("/kontroller", user, params={"kommune": "3451"}).status_code == 403
        assert api.get("/kontroller", user).json() == []
    assert api.get(f"/kontroller/{kontroll}").status_code == 401
    assert api.post("/kontroller", json=control_body(bevilling, [])).status_code == 401
    assert count(api, Kontroll) == 1


def test_controls_are_listed_by_bevilling_and_kommune_newest_first_with_their_prikker(api: Api) -> None:
    first, second = make_bevilling(api), make_bevilling(api, place_name="Tingstua")
    older = post_control(api, first, ["under_18"], at="2026-03-01T22:00").json()["id"]
    newer = post_control(api, first, [], at="2026-04-01T22:00", user="saksbehandler").json()["id"]
    post_control(api, second, ["reklame"])
    listed = api.get("/kontroller", "kontrollor", params={"bevilling_id": first}).json()
    assert [k["id"] for k in listed] == [newer, older]
    assert [p["code"] for p in listed[1]["prikker"]] == ["under_18"]
    assert listed[0]["created_by"] == "saksbehandler"
    assert len(api.get("/kontroller", "saksbehandler", params={"kommune": "nord-aurdal"}).json()) == 3
    one = api.get(f"/kontroller/{older}", "saksbehandler").json()
    assert one["kontrollorer"] == KONTROLLORER and one["prikker"][0]["points"] == 8
    assert api.get("/kontroller/999999", "saksbehandler").status_code == 404
    assert api.get("/kontroller", "saksbehandler", params={"kommune": "9999"}).status_code == 404


def test_garbage_is_a_problem_with_a_pointer_and_never_a_server_error(api: Api) -> None:
    bevilling = make_bevilling(api)
    good = control_body(bevilling, ["under_18"])
    bodies: list[Any] = [
        None,
        [],
        "kontroll",
        {},
        {**good, "bevilling_id": "abc"},
        {**good, "bevilling_id": 2**70},
        {**good, "bevilling_id": -1},
        {**good, "at": 1747351800},
        {**good, "at": "i går kveld"},
        {**good, "at": "2026-05-16"},
        {**good, "at": "2026-03-29T02:30"},
        {**good, "at": "0001-01-01T12:00"},
        {**good, "at": None},
        {**good, "kind": "ambulerende"},
        {**good, "place": ""},
        {**good, "place": "x" * 301},
        {**good, "place": "Baren\x00"},
        {**good, "kontrollorer": "Kari Nordmann"},
        {**good, "kontrollorer": []},
        {**good, "kontrollorer": ["Kari", None]},
        {**good, "kontrollorer": ["Kari", "Ola\x00"]},
        {**good, "violations": "under_18"},
        {**good, "violations": [None]},
        {**good, "violations": [{"code": "under_18"}]},
        {**good, "violations": ["x" * 41]},
        {**good, "observations": ["a"]},
        {**good, "extra": True},
    ]
    for body in bodies:
        response = api.post("/kontroller", "kontrollor", json=body)
        assert response.status_code in (404, 422), (body, response.status_code, response.text)
        assert response.headers["content-type"] == PROBLEM
        if response.status_code == 422:
            assert response.json()["errors"][0]["pointer"].startswith("/")
    raw = [b"{", b"\xff\xfe", b'{"bevilling_id": 1, "place": "\\ud800"}', b"[" * 5000]
    for content in raw:
        response = api.post(
            "/kontroller", "kontrollor", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 422), (content[:20], response.text)
        assert response.headers["content-type"] == PROBLEM
    assert post_control(api, 2**40, []).status_code == 404
    assert api.get("/kontroller/0", "kontrollor").status_code == 422
    assert api.get("/kontroller/abc", "kontrollor").status_code == 422
    assert api.get("/kontroller", "kontrollor", params={"bevilling_id": "x", "limit": 0}).status_code == 422
    assert (
        api.get("/kontroller", "kontrollor", params={"kommune": "\x00"}).status_code == 422
    )  # api/limits.py
    assert stored(api) == (0, 0, 0)
