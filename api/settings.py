"""Settings from the environment (``BEVILLING_*``); tests override ``get_settings``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting is an environment variable ``BEVILLING_<NAME>`` (README, Settings)."""

    model_config = SettingsConfigDict(env_prefix="BEVILLING_")

    database_url: str = f"sqlite:///{ROOT / 'bevilling.sqlite3'}"
    rules_path: Path = ROOT / "rules"
    shadow_sample_rate: float = Field(default=0.01, ge=0, le=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
