"""The public kommune, rules and hours endpoints (no token needed: the law is public)."""

from __future__ import annotations

from tests.api.conftest import Api


def test_kommuner_are_listed_with_kommunenummer_and_slug(api: Api) -> None:
    listed = {k["kommunenummer"]: k["slug"] for k in api.get("/kommuner").json()}
    assert listed["3451"] == "nord-aurdal"
    assert listed["4223"] == "vennesla"


def test_effective_rules_as_of_a_date_carry_sources_and_a_version(api: Api) -> None:
    body = api.get("/kommuner/3451/regler", params={"dato": "2026-05-13"}).json()
    rule = next(r for r in body["rules"] if r["id"] == "valdres.skjenketid.gruppe_3")
    assert rule["rule"]["window"] == {"from": "13:00", "to": "02:00"}
    assert "Valdres" in rule["source"]
    assert len(body["version"]) == 16


def test_serving_to_0200_in_nord_aurdal_is_allowed_at_0159_and_not_at_0200(api: Api) -> None:
    # Valdres plan 3.3.2 pkt. 10: serving ends at 02:00 at the latest.
    def ask(at: str) -> bool:
        response = api.get("/kommuner/3451/skjenking/tillatt", params={"at": at, "group": 1})
        assert response.status_code == 200, response.text
        return bool(response.json()["allowed"])

    assert ask("2026-05-16T01:59") is True
    assert ask("2026-05-16T02:00") is False


def test_the_window_names_the_rule_its_source_and_the_ruleset_version(api: Api) -> None:
    body = api.get("/kommuner/nord-aurdal/salgstid", params={"dato": "2026-05-13"}).json()
    assert (body["from_"], body["to"]) == ("08:00", "20:00")
    assert body["reasons"][0]["rule_id"] == "valdres.salgstid.hverdag"
    assert body["ruleset"]["kommune"] == "nord-aurdal"


def test_an_ambiguous_dst_time_is_a_problem_naming_the_field(api: Api) -> None:
    response = api.get("/kommuner/3451/skjenking/tillatt", params={"at": "2026-10-25T02:30", "group": 1})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["pointer"] == "/at"


def test_a_bad_group_is_a_problem_with_the_json_pointer(api: Api) -> None:
    response = api.get("/kommuner/3451/skjenking/tillatt", params={"at": "2026-05-16T01:00", "group": 7})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/group"


def test_an_unknown_kommune_is_404_problem_json(api: Api) -> None:
    response = api.get("/kommuner/9999/salgstid", params={"dato": "2026-05-13"})
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")
