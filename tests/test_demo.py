"""The demo data set on a fresh SQLite database: Vennesla as its plan describes it
(seed 000 § 5.3), real prikker from the control decisions, one place at inndragning level,
and nothing loaded twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.deps import get_book, get_evaluator
from api.main import app
from api.security import hash_token
from api.settings import Settings, get_settings
from bevilling.decisions import prikker
from bevilling.engine.evaluator import Evaluator
from bevilling.rules.book import RuleBook
from db.commands import run_gebyr
from db.demo import DemoSummary, load_demo
from db.migrate import upgrade
from db.models import AuditEntry, Bevilling, Kontroll, Omsetningsoppgave, Prikk, Soknad, User
from db.session import session_factory


@dataclass
class Demo:
    url: str
    book: RuleBook
    evaluator: Evaluator
    summary: DemoSummary


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
    upgrade(url)
    settings = Settings(database_url=url)
    book, evaluator = get_book(settings), get_evaluator(settings)  # loaded once per process
    return Demo(url, book, evaluator, load_demo(url, book, evaluator))


def count(url: str, model: type) -> int:
    session = session_factory(url)()
    try:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        session.close()


def test_the_demo_has_15_salgs_and_11_skjenkebevillinger_in_vennesla_and_a_few_in_nord_aurdal(
    demo: Demo,
) -> None:
    session = session_factory(demo.url)()
    try:
        rows = session.scalars(select(Bevilling)).all()
        by_kommune = Counter((b.kommune, b.licence) for b in rows)
        assert by_kommune[("vennesla", "salg")] == 15
        assert by_kommune[("vennesla", "skjenking")] == 11
        assert 1 <= by_kommune[("nord-aurdal", "salg")] + by_kommune[("nord-aurdal", "skjenking")] <= 6
        brewery = next(b for b in rows if b.holder == "Hunsfos Bryggeri AS" and b.licence == "salg")
        assert (brewery.venue, brewery.groups) == ("gardsutsalg", [1, 2])
        # Every licence went through a søknad and its assessment, and runs to the period's end.
        assert all(b.soknad_id is not None and b.valid_to == date(2028, 9, 30) for b in rows)
        assert all(b.vedtak["ruleset"]["version"] for b in rows)
    finally:
        session.close()  # before the next session: on SQLite every transaction takes the write lock
    assert count(demo.url, Soknad) == len(rows)
    assert demo.summary.bevillinger["vennesla"] == {"salg": 15, "skjenking": 11}


def test_the_actual_volumes_add_up_to_the_seeds_litres_and_every_vennesla_licence_is_billed(
    demo: Demo,
) -> None:
    session = session_factory(demo.url)()
    try:
        for year in (2024, 2025):
            sums = dict(
                session.execute(
                    select(
                        Bevilling.licence,
                        func.sum(
                            Omsetningsoppgave.litres_1
                            + Omsetningsoppgave.litres_2
                            + Omsetningsoppgave.litres_3
                        ),
                    )
                    .join(Bevilling, Bevilling.id == Omsetningsoppgave.bevilling_id)
                    .where(
                        Omsetningsoppgave.year == year,
                        Omsetningsoppgave.kind == "faktisk",
                        Bevilling.kommune == "vennesla",
                    )
                    .group_by(Bevilling.licence)
                ).all()
            )
            # Seed 000 § 5.3, 2019: 441 972 litres sold, 40 169 litres served.
            assert {k: Decimal(v) for k, v in sums.items()} == {"salg": 441_972, "skjenking": 40_169}
    finally:
        session.close()
    summary = run_gebyr(demo.url, demo.book, "vennesla", 2025, "test")
    assert len(summary.lines) == 26 and summary.missing_oppgave == []
    assert all(line.basis == "faktisk" for line in summary.lines)


def test_the_demo_controls_carry_real_prikker_and_one_place_reaches_inndragning(demo: Demo) -> None:
    session = session_factory(demo.url)()
    try:
        controls = Counter(
            k.kind for k in session.scalars(select(Kontroll).where(Kontroll.kommune == "vennesla"))
        )
        assert controls == {"skjenking": 50, "salg": 29}
        rows = session.scalars(select(Prikk)).all()
        assert rows and {p.code for p in rows} >= {"reklame", "medbrakt", "styrer_stedfortreder"}
        for prikk in rows:
            kontroll = session.get(Kontroll, prikk.kontroll_id)
            assert kontroll is not None and prikk.code in kontroll.violations
            line = next(x for x in kontroll.assessment["lines"] if x["code"] == prikk.code)
            assert prikk.points == line["points"]
            assert prikk.reason["rule_id"] == line["reason"]["rule_id"] == f"prikk.{prikk.code}"
        history: dict[int, list[prikker.Entry]] = {}
        for prikk in rows:
            history.setdefault(prikk.bevilling_id, []).append(
                prikker.Entry(date=prikk.violation_date, points=prikk.points)
            )
        proposals = {
            bevilling_id: prikker.propose_inndragning(
                demo.book, demo.evaluator, "vennesla", date(2025, 12, 31), entries
            )
            for bevilling_id, entries in history.items()
        }
        at_inndragning = [i for i, p in proposals.items() if p.days > 0]
        assert len(at_inndragning) == 1
        assert proposals[at_inndragning[0]].total == 12 and proposals[at_inndragning[0]].days == 7
        place = session.get(Bevilling, at_inndragning[0])
        assert place is not None and place.place_name == "Puben i Gågata"
        assert demo.summary.inndragning[0]["bevilling_id"] == at_inndragning[0]
    finally:
        session.close()


def test_the_demo_users_of_both_kommuner_have_their_tokens_stored_as_hashes_only(demo: Demo) -> None:
    session = session_factory(demo.url)()
    try:
        users = {u.username: u for u in session.scalars(select(User))}
    finally:
        session.close()
    assert {(u.role, tuple(u.kommuner)) for u in users.values()} == {
        (role, (kommune,))
        for role in ("saksbehandler", "kontrollor", "admin")
        for kommune in ("vennesla", "nord-aurdal")
    }
    for username, token in demo.summary.tokens.items():
        assert users[username].token_hash == hash_token(token) != token
    assert "vennesla-saksbehandler" in demo.summary.describe()


def test_the_demo_records_read_through_the_api_with_the_printed_tokens(demo: Demo) -> None:
    app.dependency_overrides[get_settings] = lambda: Settings(database_url=demo.url)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            auth = {"Authorization": f"Bearer {demo.summary.tokens['vennesla-saksbehandler']}"}
            pub = demo.summary.inndragning[0]["bevilling_id"]
            bevilling = client.get(f"/bevillinger/{pub}", headers=auth)
            assert bevilling.status_code == 200, bevilling.text
            for path in (
                f"/soknader/{bevilling.json()['soknad_id']}",
                f"/bevillinger/{pub}/omsetningsoppgaver",
            ):
                assert client.get(path, headers=auth).status_code == 200, path
            stored = client.get("/kommuner/vennesla/gebyr/2024", headers=auth).json()
            assert len(stored["lines"]) == 26 and stored["total"] == demo.summary.gebyr_2024
            other = {"Authorization": f"Bearer {demo.summary.tokens['nord-aurdal-saksbehandler']}"}
            assert client.get(f"/bevillinger/{pub}", headers=other).status_code == 404
    finally:
        app.dependency_overrides.pop(get_settings, None)


def test_loading_the_demo_again_changes_nothing(demo: Demo) -> None:
    tables = (Bevilling, Soknad, Omsetningsoppgave, Kontroll, Prikk, User, AuditEntry)
    before = {model.__name__: count(demo.url, model) for model in tables}
    again = load_demo(demo.url, demo.book, demo.evaluator)
    assert again.loaded is False and again.tokens == {}
    assert {model.__name__: count(demo.url, model) for model in tables} == before
