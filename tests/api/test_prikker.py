"""A bevilling's prikker: the ledger and its total (alkoholforskriften § 10-2), a prikk's
status, and the list a kommune may publish."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from db.models import AuditEntry
from db.session import session_factory
from tests.api.conftest import Api
from tests.api.test_kontroller import KONTROLLORER, PROBLEM, make_bevilling, pointers, post_control


def prikker_of(api: Api, bevilling: int, at: str, violations: list[str]) -> dict[str, dict[str, Any]]:
    response = post_control(api, bevilling, violations, at=at)
    assert response.status_code == 201, response.text
    return {p["code"]: p for p in response.json()["prikker"]}


def ledger(api: Api, bevilling: int, dato: str = "2026-05-20", user: str = "saksbehandler") -> Any:
    response = api.get(f"/bevillinger/{bevilling}/prikker", user, params={"dato": dato})
    assert response.status_code == 200, response.text
    return response.json()


def patch(api: Api, prikk: dict[str, Any], user: str = "saksbehandler", **body: Any) -> Any:
    return api.patch(f"/prikker/{prikk['id']}", user, json=body, headers={"If-Match": prikk["etag"]})


def test_the_ledger_lists_every_prikk_and_the_total_with_the_inndragning_proposal(api: Api) -> None:
    bevilling = make_bevilling(api)
    prikker_of(api, bevilling, "2026-02-14T23:00", ["apenbart_pavirket"])
    prikker_of(api, bevilling, "2026-05-16T01:30", ["under_18", "utenfor_tid"])
    body = ledger(api, bevilling)
    assert [(p["code"], p["status"], p["counted"]) for p in body["prikker"]] == [
        ("apenbart_pavirket", "foreslatt", True),
        ("under_18", "foreslatt", True),
        ("utenfor_tid", "foreslatt", True),
    ]
    # 16 points: 12 give a week, 4 more give 3 days (Helsedirektoratet's table).
    assert (body["total"], body["inndragning"]["days"]) == (16, 10)
    assert body["proposal"]["ruleset"]["kommune"] == "nord-aurdal"
    assert "14.02.2026" in body["inndragning"]["forhandsvarsel"]
    # Before the second control, 4 points and no inndragning.
    earlier = ledger(api, bevilling, dato="2026-03-01")
    assert (earlier["total"], earlier["inndragning"]) == (4, None)
    assert [p["counted"] for p in earlier["prikker"]] == [True, False, False]


def test_opphevet_prikker_drop_out_of_the_total_and_vedtatt_and_paklaget_still_count(api: Api) -> None:
    bevilling = make_bevilling(api)
    found = prikker_of(api, bevilling, "2026-05-16T01:30", ["under_18", "utenfor_tid"])
    assert patch(api, found["under_18"], status="vedtatt").status_code == 200
    appealed = patch(api, found["utenfor_tid"], status="påklaget")
    assert appealed.json()["status"] == "paklaget"
    assert ledger(api, bevilling)["total"] == 12
    response = patch(api, appealed.json(), status="opphevet", status_note="Klokka på stedet gikk feil")
    assert response.status_code == 200, response.text
    body = ledger(api, bevilling)
    assert (body["total"], body["inndragning"]) == (8, None)
    listed = {p["code"]: p for p in body["prikker"]}
    assert (listed["utenfor_tid"]["status"], listed["utenfor_tid"]["counted"]) == ("opphevet", False)


def test_points_older_than_two_years_drop_out(api: Api) -> None:
    # Two years include the same calendar date two years earlier, not the day before it.
    inside, outside = make_bevilling(api), make_bevilling(api, place_name="Tingstua")
    prikker_of(api, inside, "2024-05-16T21:00", ["utenfor_tid"])
    prikker_of(api, outside, "2024-05-15T21:00", ["utenfor_tid"])
    for bevilling in (inside, outside):
        prikker_of(api, bevilling, "2026-05-16T21:00", ["under_18"])
    assert ledger(api, inside)["total"] == 12
    body = ledger(api, outside)
    assert (body["total"], body["inndragning"]) == (8, None)
    assert [(p["code"], p["counted"]) for p in body["prikker"]] == [
        ("utenfor_tid", False),
        ("under_18", True),
    ]


def test_a_transfer_starts_a_new_period_for_the_new_holder(api: Api) -> None:
    # As POST /bevillinger/{id}/overdragelse records it: the old bevilling is overdratt from
    # 1 January, and the new holder goes on using it until its own bevilling is granted.
    transfer = {"overdragelse": {"new_holder": "Nye Fjellstua AS", "new_orgnr": "998877665"}}
    bevilling = make_bevilling(api, overdratt_on=date(2026, 1, 1), vedtak=transfer)
    old = prikker_of(api, bevilling, "2025-12-01T21:00", ["under_18"])
    new = prikker_of(api, bevilling, "2026-05-16T21:00", ["utenfor_tid"])
    body = ledger(api, bevilling)
    assert (body["total"], body["period_start"], body["inndragning"]) == (4, "2026-01-01", None)
    assert [p["counted"] for p in body["prikker"]] == [False, True]
    assert "overdratt" in body["proposal"]["reasons"][-1]["text"]
    # As of a day before the transfer, the ledger is the former holder's.
    before = ledger(api, bevilling, dato="2025-12-31")
    assert (before["total"], before["period_start"]) == (8, None)
    # The public list names who held the bevilling on each date.
    for prikk in (old["under_18"], new["utenfor_tid"]):
        assert patch(api, prikk, status="vedtatt").status_code == 200
    published = api.get("/kommuner/nord-aurdal/prikker/offentlig").json()["prikker"]
    assert {p["date"]: (p["holder"], p["orgnr"]) for p in published} == {
        "2025-12-01": ("Fjellstua Drift AS", "912345678"),
        "2026-05-16": ("Nye Fjellstua AS", "998877665"),
    }


def test_a_prikk_moves_only_along_the_allowed_transitions_and_is_set_aside_only_with_a_note(api: Api) -> None:
    bevilling = make_bevilling(api)
    found = prikker_of(api, bevilling, "2026-05-16T01:30", ["under_18", "utenfor_tid"])
    appealed = patch(api, found["under_18"], status="paklaget", status_note="Klage mottatt 20.05.2026")
    assert appealed.status_code == 200, appealed.text
    assert appealed.headers["ETag"] == appealed.json()["etag"] == 'W/"2"'
    decided = patch(api, appealed.json(), status="vedtatt")
    assert decided.json()["status"] == "vedtatt"
    assert decided.json()["status_note"] == "Klage mottatt 20.05.2026"
    # A vedtatt prikk is an enkeltvedtak that can still be appealed (law.md § 4.6), never re-proposed.
    refused = patch(api, decided.json(), status="foreslatt")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["allowed"] == ["paklaget", "opphevet"]
    back = patch(api, found["utenfor_tid"], status="foreslatt")
    assert back.status_code == 409
    assert back.json()["allowed"] == ["vedtatt", "paklaget", "opphevet"]
    assert "foreslatt → vedtatt" in back.json()["detail"]
    for body in ({"status": "opphevet"}, {"status": "opphevet", "status_note": "   "}):
        response = patch(api, found["utenfor_tid"], **body)
        assert response.status_code == 422
        assert pointers(response) == ["/status_note"]


def test_a_status_change_needs_the_current_etag_and_is_audited(api: Api) -> None:
    bevilling = make_bevilling(api)
    prikk = prikker_of(api, bevilling, "2026-05-16T01:30", ["under_18"])["under_18"]
    path = f"/prikker/{prikk['id']}"
    missing = api.patch(path, "saksbehandler", json={"status": "vedtatt"})
    assert missing.status_code == 428
    read = api.get(path, "kontrollor")
    assert read.headers["ETag"] == 'W/"1"'
    assert (
        api.patch(
            path, "saksbehandler", json={"status": "vedtatt"}, headers={"If-Match": read.headers["ETag"]}
        ).status_code
        == 200
    )
    stale = api.patch(
        path, "saksbehandler", json={"status": "opphevet", "status_note": "x"}, headers={"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    session = session_factory(api.database_url)()
    try:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "status")).one()
    finally:
        session.close()
    assert (entry.actor, entry.entity, entry.entity_id) == ("saksbehandler", "prikk", str(prikk["id"]))
    assert entry.before is not None and entry.after is not None
    assert (entry.before["status"], entry.after["status"]) == ("foreslatt", "vedtatt")


def test_every_prikk_route_hides_another_kommunes_records_and_only_a_saksbehandler_decides(api: Api) -> None:
    bevilling = make_bevilling(api)
    prikk = prikker_of(api, bevilling, "2026-05-16T01:30", ["under_18"])["under_18"]
    for user in ("vennesla_saksbehandler", "vennesla_kontrollor", "vennesla_admin"):
        assert api.get(f"/bevillinger/{bevilling}/prikker", user).status_code == 404
        assert api.get(f"/prikker/{prikk['id']}", user).status_code == 404
    for user in ("vennesla_saksbehandler", "vennesla_admin"):
        assert patch(api, prikk, user=user, status="vedtatt").status_code == 404
    assert api.get(f"/bevillinger/{bevilling}/prikker").status_code == 401
    assert api.get(f"/prikker/{prikk['id']}", "saksbehandler").json()["status"] == "foreslatt"
    # Within the kommune, only a saksbehandler (or an admin) decides a prikk.
    assert patch(api, prikk, user="kontrollor", status="vedtatt").status_code == 403
    assert patch(api, prikk, user="admin", status="vedtatt").status_code == 200


def test_the_public_list_shows_only_vedtatt_prikker_and_no_personal_data(api: Api) -> None:
    company = make_bevilling(api)
    person = make_bevilling(api, holder="Ola Enkeltmann", orgnr=None, place_name="Olas Kro")
    found = prikker_of(api, company, "2026-05-16T01:30", ["under_18", "utenfor_tid"])
    assert patch(api, found["under_18"], status="vedtatt").status_code == 200
    assert patch(api, found["utenfor_tid"], status="opphevet", status_note="Feil klokke").status_code == 200
    prikker_of(api, company, "2026-05-18T01:30", ["reklame"])  # still foreslatt
    other = prikker_of(api, person, "2026-05-16T01:30", ["medbrakt"])
    assert patch(api, other["medbrakt"], status="vedtatt").status_code == 200

    response = api.get("/kommuner/3451/prikker/offentlig")  # no token: public
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kommune"] == "nord-aurdal"
    assert {(p["place_name"], p["code"], p["points"], p["date"]) for p in body["prikker"]} == {
        ("Fjellstua", "under_18", 8, "2026-05-16"),
        ("Olas Kro", "medbrakt", 1, "2026-05-16"),
    }
    by_place = {p["place_name"]: p for p in body["prikker"]}
    assert by_place["Fjellstua"]["holder"] == "Fjellstua Drift AS"
    assert by_place["Fjellstua"]["text"].startswith("Salg, utlevering eller skjenking")
    assert by_place["Olas Kro"]["holder"] is None  # no orgnr: may be a person
    for name in (*KONTROLLORER, "Ola Enkeltmann", "Per Styrer", "Gjest født 2009"):
        assert name not in response.text
    assert api.get("/kommuner/vennesla/prikker/offentlig").json()["prikker"] == []
    window = api.get("/kommuner/3451/prikker/offentlig", params={"fra": "2026-05-17"}).json()
    assert window["prikker"] == []
    assert api.get("/kommuner/9999/prikker/offentlig").status_code == 404
    backwards = api.get("/kommuner/3451/prikker/offentlig", params={"fra": "2026-05-17", "til": "2026-05-01"})
    assert backwards.status_code == 422
    assert pointers(backwards) == ["/til"]


def test_garbage_on_the_prikk_routes_is_a_problem_never_a_server_error(api: Api) -> None:
    bevilling = make_bevilling(api)
    prikk = prikker_of(api, bevilling, "2026-05-16T01:30", ["under_18"])["under_18"]
    bodies: list[Any] = [
        None,
        [],
        {},
        {"status": "slettet"},
        {"status": 1},
        {"status": "vedtatt", "x": 1},
        {"status": "opphevet", "status_note": "nei\x00"},
        {"status": "vedtatt", "status_note": 5},
    ]
    for body in bodies:
        response = api.patch(
            f"/prikker/{prikk['id']}", "saksbehandler", json=body, headers={"If-Match": prikk["etag"]}
        )
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == PROBLEM
    assert api.patch("/prikker/9999999", "saksbehandler", json={"status": "vedtatt"}).status_code == 404
    assert (
        api.get(f"/bevillinger/{bevilling}/prikker", "saksbehandler", params={"dato": "i dag"}).status_code
        == 422
    )
    assert api.get(f"/bevillinger/{2**64}/prikker", "saksbehandler").status_code == 422
    assert api.get("/prikker/-3", "saksbehandler").status_code == 422
    assert api.get(f"/prikker/{prikk['id']}", "saksbehandler").json()["version"] == 1
