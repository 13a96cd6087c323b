"""The case officer's and the inspector's whole journey through the HTTP API, on both
databases: søknad → proposed decision → høringer → vedtak → two controls with
violations → prikker → inndragning proposal → omsetningsoppgave → gebyr run."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

RESTAURANT = {
    "kommune": "3451",
    "licence": "skjenking",
    "applicant": "Fjellstua Drift AS",
    "orgnr": "987654321",
    "place_name": "Fjellstua",
    "address": "Fagernesvegen 2, 2900 Fagernes",
    "venue": "serveringssted",
    "groups": [1, 2, 3],
    "areas": ["inne"],
    "serveringsbevilling": True,
    "uklanderlig_vandel": True,
    "styrer_og_stedfortreder": True,
    "received_on": "2025-01-06",
}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_from_application_to_gebyr_run(api: Api) -> None:
    # 1. The søknad and the engine's proposal: a restaurant gets all groups (Valdres 3.3.2 pkt. 9 C).
    response = api.post("/soknader", "saksbehandler", json=RESTAURANT)
    soknad = ok(response, 201)
    proposal = soknad["proposal"]
    assert proposal["outcome"] == "innvilges"
    assert proposal["granted_groups"] == [1, 2, 3]
    assert proposal["ruleset"]["version"] == soknad["ruleset_version"]
    tag = response.headers["ETag"]

    # 2. The høringer the law requires (alkoholloven § 1-7), answered.
    for horing in soknad["horinger"]:
        if horing["required"]:
            answer = {
                "sent_on": "2025-01-07",
                "answered_on": "2025-01-20",
                "answer": "Ingen merknader",
                "objection": False,
            }
            response = api.patch(
                f"/soknader/{soknad['id']}/horinger/{horing['body']}",
                "saksbehandler",
                json=answer,
                headers={"If-Match": tag},
            )
            ok(response)
            tag = response.headers["ETag"]

    # 3. The vedtak: a bevilling to 30 September 2028 (alkoholloven § 1-6, valg 2027).
    vedtak = {
        "decision": "accept",
        "styrer": "Kari Styrer",
        "stedfortreder": "Ola Sted",
        "valid_from": "2025-02-01",
    }
    bevilling = ok(
        api.post(f"/soknader/{soknad['id']}/vedtak", "saksbehandler", json=vedtak, headers={"If-Match": tag}),
        201,
    )["bevilling"]
    assert bevilling["valid_to"] == "2028-09-30"

    # 4. Two controls by two kontrollører each (aforskr § 9-5), with violations.
    first = {
        "bevilling_id": bevilling["id"],
        "at": "2025-03-15T23:30",
        "kind": "skjenking",
        "place": "Fjellstua",
        "kontrollorer": ["Anne Kontroll", "Per Kontroll"],
        "observations": "Gjest under 18 fikk servert øl.",
        "violations": ["under_18"],
    }
    ok(api.post("/kontroller", "kontrollor", json=first), 201)
    second = {
        **first,
        "at": "2025-09-20T02:40",
        "observations": "Skjenket etter 02:00.",
        "violations": ["utenfor_tid"],
    }
    control = ok(api.post("/kontroller", "kontrollor", json=second), 201)
    assert [p["points"] for p in control["prikker"]] == [4]

    # 5. The ledger: 8 + 4 = 12 prikker within two years → one week's inndragning (aforskr § 10-2).
    ledger = ok(
        api.get(f"/bevillinger/{bevilling['id']}/prikker", "saksbehandler", params={"dato": "2025-09-25"})
    )
    assert ledger["total"] == 12
    assert ledger["inndragning"]["days"] == 7
    letter = ledger["inndragning"]["forhandsvarsel"]
    assert "alkoholforskriften § 10-2" in letter and "Fjellstua" in letter

    # 6. The omsetningsoppgave and the yearly gebyr run (2025 rates: skjenking gr 1 0.61, gr 2 1.57, gr 3 5.19).
    oppgave = {"litres": {"1": 10000, "2": 2000, "3": 100}, "submitted_on": "2026-02-01"}
    ok(
        api.put(
            f"/bevillinger/{bevilling['id']}/omsetningsoppgaver/2025/faktisk", "saksbehandler", json=oppgave
        ),
        201,
    )
    response = api.post("/kommuner/3451/gebyr/2025/kjoring", "saksbehandler")
    assert response.status_code in (200, 201), response.text
    run = response.json()
    line = next(line for line in run["lines"] if line["bevilling_id"] == bevilling["id"])
    # 10000 × 0.61 + 2000 × 1.57 + 100 × 5.19 = 6100 + 3140 + 519 = 9759 kr, above the 6400 kr minimum.
    assert line["amount"] == 9759

    # 7. Everything written is in the audit log, readable by the kommune's admin only.
    audit = ok(api.get("/audit", "admin", params={"kommune": "3451"}))
    assert {"soknad", "bevilling", "kontroll"} <= {entry["entity"] for entry in audit}
    assert api.get("/audit", "vennesla_admin", params={"kommune": "3451"}).status_code == 403
