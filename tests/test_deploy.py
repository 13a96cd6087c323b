"""No Docker engine runs here: check that docker-compose.yml parses, and that it, the
Settings class and the README name the same BEVILLING_* settings."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_runs_postgresql_and_the_api_with_health_checks() -> None:
    services = _compose()["services"]
    assert {"db", "api"} <= set(services)
    assert "healthcheck" in services["db"] and "healthcheck" in services["api"]
    assert services["api"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["api"]["command"][:2] == ["bevilling", "serve"]  # serve migrates before it starts


def test_every_setting_the_compose_file_sets_exists_and_is_documented() -> None:
    known = {f"BEVILLING_{name.upper()}" for name in Settings.model_fields}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"BEVILLING_[A-Z_]+", readme))
    used = {k for k in _compose()["services"]["api"]["environment"] if k.startswith("BEVILLING_")}
    assert used <= known, used - known
    assert known <= documented, known - documented


def test_the_compose_database_url_points_at_the_compose_database() -> None:
    services = _compose()["services"]
    url = services["api"]["environment"]["BEVILLING_DATABASE_URL"]
    env = services["db"]["environment"]
    assert url == (
        f"postgresql+psycopg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@db:5432/{env['POSTGRES_DB']}"
    )
