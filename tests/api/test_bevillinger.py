"""Bevillinger: reading them (kontrollør too), approved changes, ending them and the
overdragelse (alkoholloven §§ 1-7c, 1-10), with If-Match, audit and kommune scope."""

from __future__ import annotations

from typing import Any

from db.models import Bevilling, Soknad
from tests.api.conftest import Api
from tests.api.test_soknader import audit_entries, count, granted


def change(
    api: Api, bevilling: dict[str, Any], body: Any, tag: str | None = None, user: str = "saksbehandler"
) -> Any:
    headers = {"If-Match": tag or f'W/"{bevilling["version"]}"'}
    return api.patch(f"/bevillinger/{bevilling['id']}", user, json=body, headers=headers)


def transfer(api: Api, bevilling: dict[str, Any], body: Any, tag: str | None = None, **headers: str) -> Any:
    headers = {"If-Match": tag or f'W/"{bevilling["version"]}"', **headers}
    return api.post(
        f"/bevillinger/{bevilling['id']}/overdragelse", "saksbehandler", json=body, headers=headers
    )


def test_any_staff_of_the_kommune_lists_and_reads_bevillinger_with_an_etag(api: Api) -> None:
    bevilling = granted(api)
    for user in ("kontrollor", "saksbehandler", "admin"):
        listed = api.get("/bevillinger", user, params={"kommune": "3451"})
        assert listed.status_code == 200
        assert [b["id"] for b in listed.json()] == [bevilling["id"]]
        response = api.get(f"/bevillinger/{bevilling['id']}", user)
        assert response.status_code == 200
        assert response.headers["ETag"] == f'W/"{bevilling["version"]}"'
        assert response.json() == bevilling
    assert api.get("/bevillinger", "kontrollor", params={"status": "opphort"}).json() == []
    assert api.get("/bevillinger", None).status_code == 401


def test_a_new_styrer_needs_the_current_etag_and_is_audited_before_and_after(api: Api) -> None:
    bevilling = granted(api)
    response = change(api, bevilling, {"styrer": "Nina Nystyrer"})
    assert response.status_code == 200, response.text
    assert response.json()["styrer"] == "Nina Nystyrer"
    assert response.headers["ETag"] == f'W/"{bevilling["version"] + 1}"'
    entry = audit_entries(api, "bevilling")[-1]
    assert entry.action == "update"
    assert entry.before is not None and entry.before["styrer"] == "Kari Styrer"
    assert entry.after is not None and entry.after["styrer"] == "Nina Nystyrer"
    assert change(api, bevilling, {"stedfortreder": "Pål"}).status_code == 412
    missing = api.patch(f"/bevillinger/{bevilling['id']}", "saksbehandler", json={"stedfortreder": "Pål"})
    assert missing.status_code == 428
    assert transfer(api, bevilling, {"new_holder": "Ny AS", "date": "2026-09-01"}).status_code == 412
    no_tag = api.post(
        f"/bevillinger/{bevilling['id']}/overdragelse",
        "saksbehandler",
        json={"new_holder": "Ny AS", "date": "2026-09-01"},
    )
    assert no_tag.status_code == 428


def test_the_rules_vilkar_stay_when_the_officer_replaces_their_own(api: Api) -> None:
    bevilling = granted(api)
    from_rules = [c for c in bevilling["conditions"] if c["set_by"] == "regel"]
    assert from_rules
    response = change(
        api,
        bevilling,
        {
            "conditions": [
                {
                    "condition": "aldersgrense",
                    "text": "20 års aldersgrense etter kl. 22",
                    "age": 20,
                    "from": "22:00",
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    conditions = response.json()["conditions"]
    assert conditions[: len(from_rules)] == from_rules
    assert conditions[-1] == {
        "condition": "aldersgrense",
        "text": "20 års aldersgrense etter kl. 22",
        "from": "22:00",
        "to": None,
        "age": 20,
        "discretionary": True,
        "set_by": "saksbehandler",
        "reason": None,
    }


def test_an_ended_bevilling_is_opphort_and_cannot_be_changed(api: Api) -> None:
    bevilling = granted(api)
    response = change(api, bevilling, {"status": "opphort"})
    assert response.status_code == 200
    assert response.json()["status"] == "opphort"
    assert change(api, response.json(), {"styrer": "X"}).status_code == 409
    assert change(api, response.json(), {"status": "aktiv"}).status_code == 422


def test_an_overdragelse_marks_the_bevilling_overdratt_and_the_new_holder_must_apply(api: Api) -> None:
    bevilling = granted(api)
    body = {"new_holder": "Nye Fjellcamp AS", "new_orgnr": "998877665", "date": "2026-09-01"}
    response = transfer(api, bevilling, body, **{"Idempotency-Key": "overdragelse-1"})
    assert response.status_code == 200, response.text
    after = response.json()
    assert (after["status"], after["overdratt_on"], after["holder"]) == (
        "overdratt",
        "2026-09-01",
        "Fjellcamp AS",
    )
    assert after["overdragelse"]["new_holder"] == "Nye Fjellcamp AS"
    assert after["overdragelse"]["recorded_by"] == "saksbehandler"
    replay = transfer(api, bevilling, body, **{"Idempotency-Key": "overdragelse-1"})
    assert replay.json() == after
    assert transfer(api, after, body).status_code == 409
    assert (count(api, Bevilling), count(api, Soknad)) == (1, 1)  # nothing is granted to the new holder
    entry = audit_entries(api, "bevilling")[-1]
    assert entry.action == "overdragelse"
    assert entry.before is not None and entry.before["status"] == "aktiv"


def test_another_kommunes_user_gets_404_for_a_bevilling_and_403_for_its_kommune(api: Api) -> None:
    bevilling = granted(api)
    for user in ("vennesla_saksbehandler", "vennesla_kontrollor", "vennesla_admin"):
        assert api.get(f"/bevillinger/{bevilling['id']}", user).status_code == 404
        assert api.get("/bevillinger", user, params={"kommune": "nord-aurdal"}).status_code == 403
        assert api.get("/bevillinger", user).json() == []
    for user in ("vennesla_saksbehandler", "vennesla_admin"):
        assert change(api, bevilling, {"styrer": "X"}, user=user).status_code == 404
        moved = api.post(
            f"/bevillinger/{bevilling['id']}/overdragelse",
            user,
            json={"new_holder": "X", "date": "2026-09-01"},
            headers={"If-Match": f'W/"{bevilling["version"]}"'},
        )
        assert moved.status_code == 404
    assert change(api, bevilling, {"styrer": "X"}, user="kontrollor").status_code == 403
    assert api.get("/bevillinger/424242", "kontrollor").status_code == 404


def test_bad_bodies_are_422_problems_naming_the_field(api: Api) -> None:
    bevilling = granted(api)
    for body, pointer in [
        ({}, "/"),
        ({"styrer": None}, "/styrer"),
        ({"styrer": ""}, "/styrer"),
        ({"status": "inndratt"}, "/status"),
        ({"conditions": [{"text": "x", "age": 7}]}, "/conditions/0/age"),
        ({"conditions": [{"text": "x", "from": "8"}]}, "/conditions/0/from"),
        ({"holder": "Annen"}, "/holder"),
        ([1, 2], "/"),
    ]:
        response = change(api, bevilling, body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["pointer"] == pointer, (body, response.text)
    for body, pointer in [
        ({"new_holder": "Ny AS"}, "/date"),
        ({"new_holder": "Ny AS", "date": "2025-01-01"}, "/date"),
        ({"new_holder": "Ny AS", "date": "2026-09-01", "new_orgnr": "abc"}, "/new_orgnr"),
    ]:
        response = transfer(api, bevilling, body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["pointer"] == pointer, (body, response.text)
