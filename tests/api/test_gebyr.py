"""The yearly omsetningsgebyr run (alkoholforskriften §§ 6-1–6-3) through the API and
``db.commands.run_gebyr``: the sums by hand from rules/national.yaml, the missing
oppgaver, idempotent re-runs, a year without rates, the CSV and the kommune scope."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from api.deps import get_book
from api.settings import Settings
from db.commands import run_gebyr
from db.models import AuditEntry, Gebyr
from db.session import session_factory
from tests.api.conftest import Api
from tests.api.test_oppgaver import add_bevilling, put_oppgave


def nord_aurdal_2025(api: Api) -> dict[str, int]:
    """Five Nord-Aurdal licences with their 2025 oppgaver, and three that the run must not bill."""
    url = api.database_url
    ids = {
        "butikk": add_bevilling(url, licence="salg", venue="butikk", groups=[1], place_name="Kiwi Fagernes"),
        "hotell": add_bevilling(url, venue="overnattingssted", place_name="Fagernes Fjellhotell"),
        "camping": add_bevilling(url, venue="camping", groups=[1, 2], place_name="Strand Camping"),
        "pub": add_bevilling(url, venue="bar", place_name="Tingvoll Pub"),
        "festival": add_bevilling(
            url, licence="enkeltanledning", venue="konsert", place_name="Jazz på Tinget"
        ),
    }
    # Not billed for 2025: ended before the year, starts after it, another kommune.
    add_bevilling(url, valid_from=date(2020, 10, 1), valid_to=date(2024, 9, 30), place_name="Gamle Kroa")
    add_bevilling(url, valid_from=date(2026, 3, 1), valid_to=date(2028, 9, 30), place_name="Nye Kroa")
    add_bevilling(url, kommune="vennesla", place_name="Puben i Gågata")

    # A faktisk oppgave decides over the forventet one (etteroppgjør, § 6-3).
    assert put_oppgave(api, ids["butikk"], {"1": 90_000}, kind="forventet").status_code == 201
    assert put_oppgave(api, ids["butikk"], {"1": 100_000}, kind="faktisk").status_code == 201
    assert put_oppgave(api, ids["hotell"], {"1": 10_000, "2": 3_000, "3": "500.5"}).status_code == 201
    assert put_oppgave(api, ids["camping"], {"1": 2_000}).status_code == 201
    # Tingvoll Pub has no oppgave for 2025, only one for 2024.
    assert put_oppgave(api, ids["pub"], {"1": 5_000}, year=2024).status_code == 201
    return ids


# rules/national.yaml, gebyr.2025: salg gruppe 1 0.25 kr/l; skjenking gruppe 1 0.61, gruppe 2
# 1.57, gruppe 3 5.19 kr/l; minimum 2 070 kr (salg) and 6 400 kr (skjenking).
EXPECTED_2025 = {
    # 100 000 l × 0.25 = 25 000 kr (faktisk; the forventet 90 000 l is not used)
    "butikk": ("faktisk", 25_000),
    # 10 000 × 0.61 + 3 000 × 1.57 + 500.5 × 5.19 = 6 100 + 4 710 + 2 597.595 = 13 407.595 → 13 408 kr
    "hotell": ("forventet", 13_408),
    # 2 000 × 0.61 = 1 220 kr, below the skjenking minimum → 6 400 kr
    "camping": ("forventet", 6_400),
}
EXPECTED_TOTAL_2025 = 25_000 + 13_408 + 6_400  # 44 808 kr


def gebyr_rows(url: str, year: int) -> list[tuple[int, int, int, str]]:
    session = session_factory(url)()
    try:
        rows = session.scalars(select(Gebyr).where(Gebyr.year == year).order_by(Gebyr.bevilling_id))
        return [(row.id, row.bevilling_id, row.amount, row.basis) for row in rows]
    finally:
        session.close()


def gebyr_runs(url: str) -> int:
    session = session_factory(url)()
    try:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "gebyr_run")
            )
            or 0
        )
    finally:
        session.close()


def run(api: Api, year: int = 2025, user: str = "saksbehandler", **kwargs: Any) -> Any:
    return api.post(f"/kommuner/nord-aurdal/gebyr/{year}/kjoring", user, **kwargs)


def test_the_2025_run_sums_the_oppgaver_with_the_national_rates_and_minimums(api: Api) -> None:
    ids = nord_aurdal_2025(api)
    response = run(api)
    assert response.status_code == 200, response.text
    body = response.json()
    got = {line["bevilling_id"]: (line["basis"], line["amount"]) for line in body["lines"]}
    assert got == {ids[name]: expected for name, expected in EXPECTED_2025.items()}
    assert body["total"] == EXPECTED_TOTAL_2025
    assert [(m["bevilling_id"], m["place"]) for m in body["missing_oppgave"]] == [
        (ids["pub"], "Tingvoll Pub")
    ]
    assert [m["bevilling_id"] for m in body["not_by_volume"]] == [ids["festival"]]
    assert body["rates_status"] == "unverified"

    stored = api.get("/kommuner/3451/gebyr/2025", "saksbehandler").json()
    assert [(line["bevilling_id"], line["amount"]) for line in stored["lines"]] == sorted(
        (ids[name], amount) for name, (_, amount) in EXPECTED_2025.items()
    )
    assert stored["total"] == EXPECTED_TOTAL_2025
    hotel = stored["decisions"][str(ids["hotell"])]
    assert (
        Decimal(hotel["by_volume"]) == Decimal("13407.595") and hotel["reasons"][0]["rule_id"] == "gebyr.2025"
    )


def test_re_running_a_year_gives_identical_rows_and_a_changed_oppgave_changes_the_amount(api: Api) -> None:
    ids = nord_aurdal_2025(api)
    assert run(api).status_code == 200
    first = gebyr_rows(api.database_url, 2025)
    assert run(api).status_code == 200
    assert gebyr_rows(api.database_url, 2025) == first

    # The CLI's entry point gives the same answer and the same rows.
    calls: list[tuple[int, int]] = []
    summary = run_gebyr(
        api.database_url,
        get_book(Settings(database_url=api.database_url)),
        "nord-aurdal",
        2025,
        "cli",
        progress=lambda done, total: calls.append((done, total)),
    )
    assert summary.total == EXPECTED_TOTAL_2025
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert gebyr_rows(api.database_url, 2025) == first

    # The camping site reports more: 12 000 l × 0.61 = 7 320 kr, above the minimum.
    etag = api.get(f"/bevillinger/{ids['camping']}/omsetningsoppgaver", "saksbehandler").json()[0]["etag"]
    changed = put_oppgave(api, ids["camping"], {"1": 12_000}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert run(api).json()["total"] == 25_000 + 13_408 + 7_320
    after = gebyr_rows(api.database_url, 2025)
    assert [(r[0], r[1]) for r in after] == [(r[0], r[1]) for r in first]
    assert {r[1]: r[2] for r in after}[ids["camping"]] == 7_320
    assert gebyr_runs(api.database_url) == 4


def test_a_year_without_rates_is_a_422_problem_and_stores_nothing(api: Api) -> None:
    nord_aurdal_2025(api)
    response = run(api, year=2026)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/gebyr-rates-missing")
    assert problem["errors"][0]["pointer"] == "/year"
    assert "2026" in problem["detail"]
    assert gebyr_rows(api.database_url, 2026) == []
    assert gebyr_runs(api.database_url) == 0


def test_the_csv_has_a_header_and_one_line_per_bevilling(api: Api) -> None:
    ids = nord_aurdal_2025(api)
    assert run(api).status_code == 200
    response = api.get("/kommuner/nord-aurdal/gebyr/2025.csv", "saksbehandler")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text), delimiter=";"))
    assert rows[0] == ["aar", "bevilling_id", "bevillingshaver", "sted", "bevilling", "grunnlag", "gebyr_kr"]
    assert sorted((int(r[1]), int(r[6])) for r in rows[1:]) == sorted(
        (ids[name], amount) for name, (_, amount) in EXPECTED_2025.items()
    )


def test_a_retried_run_with_the_same_idempotency_key_is_answered_once(api: Api) -> None:
    nord_aurdal_2025(api)
    headers = {"Idempotency-Key": "gebyr-2025-a"}
    first = run(api, headers=headers)
    again = run(api, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert gebyr_runs(api.database_url) == 1
    assert run(api, year=2024, headers=headers).status_code == 422  # the same key for another run


def test_the_gebyr_routes_of_another_kommune_are_403_and_of_an_unknown_one_404(api: Api) -> None:
    nord_aurdal_2025(api)
    routes = [
        ("post", "/kommuner/nord-aurdal/gebyr/2025/kjoring"),
        ("get", "/kommuner/nord-aurdal/gebyr/2025"),
        ("get", "/kommuner/3451/gebyr/2025.csv"),
    ]
    for method, path in routes:
        assert getattr(api, method)(path, "vennesla_saksbehandler").status_code == 403, path
        assert getattr(api, method)(path, "vennesla_admin").status_code == 403, path
        assert getattr(api, method)(path, "kontrollor").status_code == 403, path
        assert getattr(api, method)(path).status_code == 401, path
        assert (
            getattr(api, method)(
                path.replace("nord-aurdal", "9999").replace("3451", "9999"), "admin"
            ).status_code
            == 404
        )
    assert gebyr_rows(api.database_url, 2025) == []


def test_concurrent_runs_of_the_same_year_queue_and_store_one_row_per_bevilling(api: Api) -> None:
    nord_aurdal_2025(api)
    book = get_book(Settings(database_url=api.database_url))
    failures: list[BaseException] = []

    def run_once() -> None:
        try:
            # A pause after each line widens the window between reading and writing the rows.
            run_gebyr(
                api.database_url, book, "nord-aurdal", 2025, "cli", progress=lambda *_: time.sleep(0.05)
            )
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=run_once) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(r[2] for r in gebyr_rows(api.database_url, 2025)) == sorted(
        a for _, a in EXPECTED_2025.values()
    )
