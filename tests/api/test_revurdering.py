"""Re-assessment of active bevillinger against the kommune's rules as of a date
(Nord-Aurdal: Valdres plan 3.3.2 pkt. 9 B, camping at most gruppe 2; pkt. 10, serving
ends at 02:00)."""

from __future__ import annotations

from datetime import date

from api.deps import get_book, get_evaluator
from api.settings import Settings
from db.commands import reassess_all
from tests.api.conftest import Api
from tests.api.test_oppgaver import add_bevilling


def hours(group: int, start: str, end: str, area: str = "inne") -> dict[str, object]:
    return {"group": group, "area": area, "from": start, "to": end}


def test_a_camping_licence_with_gruppe_3_and_serving_to_0300_is_flagged_and_a_compliant_one_is_not(
    api: Api,
) -> None:
    url = api.database_url
    wrong = add_bevilling(
        url,
        venue="camping",
        place_name="Strand Camping",
        groups=[1, 2, 3],
        hours=[hours(1, "08:00", "02:00"), hours(3, "13:00", "03:00")],
    )
    add_bevilling(
        url,
        venue="camping",
        place_name="Fjellcamping",
        groups=[1, 2],
        hours=[hours(1, "08:00", "02:00"), hours(2, "08:00", "02:00")],
    )
    # Not active on the date: not re-assessed.
    add_bevilling(
        url, venue="camping", groups=[1, 2, 3], valid_from=date(2020, 10, 1), valid_to=date(2024, 9, 30)
    )
    add_bevilling(url, venue="camping", groups=[1, 2, 3], status="opphort")

    response = api.get("/kommuner/3451/revurdering", "saksbehandler", params={"dato": "2026-05-13"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["kommune"], body["on"], body["checked"]) == ("nord-aurdal", "2026-05-13", 2)
    assert [f["bevilling_id"] for f in body["flagged"]] == [wrong]
    breaches = {b["what"]: b for b in body["flagged"][0]["breaches"]}
    assert set(breaches) == {"groups", "hours"}
    assert breaches["groups"]["reason"]["rule_id"] == "valdres.hoyeste_gruppe.b"
    assert "gruppe 2" in breaches["groups"]["detail"]
    assert breaches["hours"]["reason"]["rule_id"] == "valdres.skjenketid.gruppe_3"
    assert "13:00–02:00" in breaches["hours"]["detail"]

    # The same through the function the CLI and batch jobs use.
    settings = Settings(database_url=url)
    again = reassess_all(url, get_book(settings), get_evaluator(settings), "3451", date(2026, 5, 13))
    assert again.model_dump(mode="json") == body


def test_a_licence_the_rules_cannot_read_is_listed_with_the_error(api: Api) -> None:
    broken = add_bevilling(api.database_url, venue="romskip")
    body = api.get("/kommuner/nord-aurdal/revurdering", "admin", params={"dato": "2026-05-13"}).json()
    assert [(f["bevilling_id"], f["breaches"]) for f in body["flagged"]] == [(broken, [])]
    assert "romskip" in body["flagged"][0]["errors"][0]


def test_revurdering_of_another_kommune_is_403_for_a_kontrollor_403_and_for_an_unknown_one_404(
    api: Api,
) -> None:
    add_bevilling(api.database_url, venue="camping", groups=[1, 2, 3])
    params = {"dato": "2026-05-13"}
    assert (
        api.get("/kommuner/nord-aurdal/revurdering", "vennesla_saksbehandler", params=params).status_code
        == 403
    )
    assert api.get("/kommuner/nord-aurdal/revurdering", "vennesla_admin", params=params).status_code == 403
    assert api.get("/kommuner/nord-aurdal/revurdering", "kontrollor", params=params).status_code == 403
    assert api.get("/kommuner/nord-aurdal/revurdering", params=params).status_code == 401
    assert api.get("/kommuner/9999/revurdering", "admin", params=params).status_code == 404
    # Vennesla's own re-assessment does not see Nord-Aurdal's licence.
    own = api.get("/kommuner/vennesla/revurdering", "vennesla_saksbehandler", params=params).json()
    assert (own["checked"], own["flagged"]) == (0, [])
