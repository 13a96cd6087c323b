"""Omsetningsoppgaver (alkoholforskriften § 6-3): create, replace with If-Match, validation,
kommune scope. Bevillinger are written straight to the database (not through the vedtak
routes) so that these tests depend only on the oppgave routes."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from db.models import AuditEntry, Bevilling
from db.session import session_factory
from tests.api.conftest import Api


def add_bevilling(url: str, **given: Any) -> int:
    """A bevilling row as a vedtak would leave it (Nord-Aurdal skjenking unless told)."""
    values: dict[str, Any] = {
        "kommune": "nord-aurdal",
        "licence": "skjenking",
        "holder": "Fagernes Servering AS",
        "place_name": "Fagernes Kro",
        "address": "Fagernes, 2900 Fagernes",
        "venue": "serveringssted",
        "zone": None,
        "styrer": "Kari Nordmann",
        "stedfortreder": "Ola Nordmann",
        "groups": [1, 2, 3],
        "areas": ["inne"],
        "hours": [],
        "conditions": [],
        "valid_from": date(2024, 10, 1),
        "valid_to": date(2028, 9, 30),
        "status": "aktiv",
        "vedtak": {"outcome": "innvilges"},
    }
    values.update(given)
    session = session_factory(url)()
    try:
        bevilling = Bevilling(**values)
        session.add(bevilling)
        session.commit()
        return bevilling.id
    finally:
        session.close()


def oppgave_path(bevilling_id: int, year: int = 2025, kind: str = "forventet") -> str:
    return f"/bevillinger/{bevilling_id}/omsetningsoppgaver/{year}/{kind}"


def put_oppgave(
    api: Api,
    bevilling_id: int,
    litres: dict[str, Any],
    year: int = 2025,
    kind: str = "forventet",
    **kwargs: Any,
) -> Any:
    body = {"litres": litres, "submitted_on": "2025-02-28"}
    return api.put(oppgave_path(bevilling_id, year, kind), "saksbehandler", json=body, **kwargs)


def audit_actions(url: str, entity: str) -> list[str]:
    session = session_factory(url)()
    try:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id))
        return [row.action for row in rows]
    finally:
        session.close()


def test_an_oppgave_is_created_with_201_and_replaced_with_if_match_200(api: Api) -> None:
    bevilling_id = add_bevilling(api.database_url)
    created = put_oppgave(api, bevilling_id, {"1": 12000.5, "2": "3000", "3": 450})
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == 'W/"1"'
    assert created.json()["litres"] == {"1": "12000.50", "2": "3000.00", "3": "450.00"}

    missing = put_oppgave(api, bevilling_id, {"1": 13000})
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    stale = put_oppgave(api, bevilling_id, {"1": 13000}, headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 412

    replaced = put_oppgave(api, bevilling_id, {"1": 13000}, headers={"If-Match": created.headers["ETag"]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["litres"] == {"1": "13000.00", "2": "0.00", "3": "0.00"}
    assert replaced.headers["ETag"] == 'W/"2"'

    listed = api.get(f"/bevillinger/{bevilling_id}/omsetningsoppgaver", "saksbehandler").json()
    assert [(o["year"], o["kind"], o["litres"]["1"], o["version"]) for o in listed] == [
        (2025, "forventet", "13000.00", 2)
    ]
    assert audit_actions(api.database_url, "omsetningsoppgave") == ["create", "update"]


def test_forventet_and_faktisk_of_a_year_are_two_oppgaver(api: Api) -> None:
    bevilling_id = add_bevilling(api.database_url)
    assert put_oppgave(api, bevilling_id, {"1": 100}, kind="forventet").status_code == 201
    assert put_oppgave(api, bevilling_id, {"1": 90}, kind="faktisk").status_code == 201
    listed = api.get(f"/bevillinger/{bevilling_id}/omsetningsoppgaver", "admin").json()
    assert [(o["kind"], o["litres"]["1"]) for o in listed] == [("faktisk", "90.00"), ("forventet", "100.00")]


def test_litres_for_a_group_the_licence_does_not_hold_is_a_422_naming_the_group(api: Api) -> None:
    shop = add_bevilling(api.database_url, licence="salg", venue="butikk", groups=[1])

    def pointer(litres: dict[str, Any], kind: str = "forventet") -> str:
        response = put_oppgave(api, shop, litres, kind=kind)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/invalid-input")
        return str(response.json()["errors"][0]["pointer"])

    assert pointer({"1": 100, "2": 5}) == "/litres/2"
    assert pointer({"4": 1}) == "/litres/4"
    assert pointer({"1": -1}) == "/litres/1"
    assert pointer({"1": "10.125"}) == "/litres/1"
    assert pointer({}) == "/litres"
    assert pointer({"1": 100}, kind="anslag") == "/kind"
    # Nothing sold in a group the licence lacks is no error.
    assert put_oppgave(api, shop, {"1": 100, "2": 0}).status_code == 201


def test_an_oppgave_for_a_year_the_licence_was_not_valid_is_a_422_naming_the_year(api: Api) -> None:
    bevilling_id = add_bevilling(api.database_url, valid_from=date(2024, 10, 1), valid_to=date(2028, 9, 30))
    response = put_oppgave(api, bevilling_id, {"1": 100}, year=2023)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/year"


def test_another_kommunes_bevilling_answers_404_and_other_roles_are_refused(api: Api) -> None:
    bevilling_id = add_bevilling(api.database_url)
    body = {"litres": {"1": 100}, "submitted_on": "2025-02-28"}
    path = oppgave_path(bevilling_id)
    listing = f"/bevillinger/{bevilling_id}/omsetningsoppgaver"

    assert api.put(path, "vennesla_saksbehandler", json=body).status_code == 404
    assert api.get(listing, "vennesla_saksbehandler").status_code == 404
    assert api.get(listing, "vennesla_admin").status_code == 404
    assert api.put(oppgave_path(999_999), "saksbehandler", json=body).status_code == 404
    assert api.get(f"/bevillinger/{2**64}/omsetningsoppgaver", "saksbehandler").status_code == 422
    assert api.put(path, "kontrollor", json=body).status_code == 403
    assert api.get(listing, "kontrollor").status_code == 403
    assert api.put(path, None, json=body).status_code == 401
    assert api.get(listing).status_code == 401
    assert audit_actions(api.database_url, "omsetningsoppgave") == []
