"""Shared dependencies: the rule book and the evaluator, loaded once per process."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException

from api.settings import Settings, get_settings
from bevilling.engine.evaluator import EngineEvaluator, ReferenceEvaluator, ShadowEvaluator
from bevilling.rules.book import RuleBook, UnknownKommune

_loading = threading.Lock()


@lru_cache(maxsize=1)
def _load(path: str) -> RuleBook:
    return RuleBook.load(path)


def _book(path: str) -> RuleBook:
    # Loading takes a second or two; the lock keeps a burst of first requests (e.g. every
    # client retrying after a restart) from loading it once each.
    with _loading:
        return _load(path)


def get_book(settings: Annotated[Settings, Depends(get_settings)]) -> RuleBook:
    return _book(str(settings.rules_path))


@lru_cache(maxsize=4)
def _evaluator(sample_rate: float) -> ShadowEvaluator:
    return ShadowEvaluator(EngineEvaluator(), ReferenceEvaluator(), sample_rate)


def get_evaluator(settings: Annotated[Settings, Depends(get_settings)]) -> ShadowEvaluator:
    """The engine, with a sample of its answers re-checked by the reference evaluator."""
    return _evaluator(settings.shadow_sample_rate)


BookDep = Annotated[RuleBook, Depends(get_book)]
EvaluatorDep = Annotated[ShadowEvaluator, Depends(get_evaluator)]


def kommune_slug(book: RuleBook, key: str) -> str:
    """A kommunenummer or slug as the slug records are stored under (404 if unknown)."""
    try:
        return book.slug_of(key)
    except UnknownKommune as error:
        raise HTTPException(404, str(error)) from None
