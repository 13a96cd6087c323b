"""Adapter around durable-rules 2.0.28: stateless, fail-closed evaluation of JSON rulesets.

This is the only module in the project allowed to import ``durable`` (import-linter
contract in ``pyproject.toml``). Every engine pitfall we know of is handled here so that
none reaches a caller; see ``/work/shared/domain/durable-rules.md`` for the background.

Public API
==========

``DurableEngine`` with ``register``, ``is_registered``, ``unregister``, ``first`` (input
posted as an *event*: the action of the lowest-``pri`` matching rule) and ``all`` (input
asserted as a *fact*: the actions of every matching rule, in ``pri`` order).

Exception tree (each class has a stable ``code``; no exception ever means "allowed")::

    EngineError                 engine_error          anything the engine could not do
    ├── EngineNoDecision        engine_no_decision    no rule fired / None or 0 result
    ├── EngineActionFailed      engine_action_failed  an exception was stored in the state
    └── EngineInputError        engine_input_error    a ruleset or an input we refuse

Ruleset format accepted by ``register``
=======================================

``{rule_name: {"all": [{"m": condition}], "pri": int, "run": action_name}, ...}``

* exactly those three keys per rule; one ``m`` pattern per rule (joins, ``any``, ``count``,
  ``cap`` and rules on ``s`` are refused: they leave half-matched messages in a session);
* ``pri``: an ``int`` in ``0..MAX_PRI``, unique within the ruleset. Measured: a negative
  ``pri`` or one above 2**31 is mis-ordered by the engine, and ties make "first" ambiguous;
* ``run``: any non-empty action name; every name resolves to a closure that records the
  name for the current request (``get_action``). ``first``/``all`` return these names;
* a condition is a one-key object: ``{"$and"|"$or": [condition, ...]}``,
  ``{"$lt"|"$lte"|"$gt"|"$gte": {prop: int}}``, ``{"$eq"|"$neq": {prop: scalar}}``,
  ``{"$ex"|"$nex": {prop: 1}}`` or ``{prop: scalar}`` (equality);
* the types compared with one property must agree (``str``, ``int`` or ``bool``): the
  engine coerces ``'10' == 10`` and ``true == 1 == "true"``, so the adapter fixes one type
  per property at registration and refuses any input value of another type.

Pitfalls and how they are hidden
================================

* **Stock ``Host`` timer threads** steal actions (``post`` returns ``None``) and segfault
  with concurrent ``delete_state``. ``_SyncHost._run`` is a no-op: no thread is started, and
  every action runs inside the caller's ``post``.
* **Concurrency.** One ``threading.Lock`` covers every host call; an evaluation holds it from
  ``post`` to ``delete_state``. Hence at most one session per engine is ever alive, which
  also rules out sid collisions (sessions are found by a 32-bit hash of the sid).
* **Sessions.** Each evaluation uses a fresh sid (uuid4 hex) and deletes it in ``finally``,
  so the 1,024-live-sessions cap is never reached and nothing leaks between requests.
* **Deleting a never-actioned session crashes the process** (measured, differs from the
  notes): after ``MessageNotHandledException`` the engine keeps a session for the sid, and
  ``delete_state`` on it frees an uninitialised pointer (``deleteStateNode``, SIGSEGV or
  "double free"). A session is only safe to delete once an action has run in it.
  Therefore ``register`` appends a hidden catch-all rule (``$ex req_id``, ``pri`` above every
  user rule, action ``NO_MATCH_ACTION``) so that *every* message is handled and always runs
  at least one action. ``first`` maps "only the catch-all fired" to ``EngineNoDecision``;
  ``all`` drops it from the result. Should a message ever leave a session without an action
  (not reachable through this API), the session is *not* deleted; after
  ``LEAK_RECYCLE_THRESHOLD`` such sessions the ruleset is deleted and re-created so the cap
  is never hit (``deleteRuleset`` does not free those sessions: about 80 KiB each, measured).
* **Exceptions in actions** are swallowed into ``state['exception']``: mapped to
  ``EngineActionFailed``. ``None``/``0`` from ``post`` (no action completed, async action,
  the engine's 10 s action limit, which measures local time) map to ``EngineNoDecision``.
* **Events vs facts.** With events only the lowest-``pri`` action fires; with facts all
  matching rules fire. The input carries a unique ``req_id`` so identical inputs never
  raise ``MessageObservedException``; ``req_id``, ``sid`` and ``id`` are reserved keys.
* **Type coercion** (see above) and **values we refuse**: only exact ``str``, ``int`` and
  ``bool`` (no ``float``, ``None``, ``dict``, ``list`` or subclasses such as enums; pass
  ``.value``); ints within +/-(2**53 - 1); strings up to ``MAX_STRING_LENGTH`` characters and
  encodable as UTF-8; at most ``MAX_EVENT_KEYS`` keys.
* **Property names are identified by a 32-bit FNV-1a hash** of their bytes (C
  ``getStringAndHash``/``fnv1Hash32``). Verified against the binary: a rule on ``porbxw``
  fires for an event carrying only ``puscra`` (both hash to 3570000225). Names are therefore
  restricted to ASCII identifiers (``KEY_PATTERN``; the C code hashes *signed* chars, which
  only matters beyond ASCII), and ``register`` refuses a ruleset in which two condition
  properties, or a condition property and an engine property (``sid``, ``id``, ``req_id``,
  ``$s``), share a hash. Input keys are checked at evaluation time against that table and
  against each other, with the same hash implemented in Python (``fnv1a_32``).
* **``set_rulesets`` mutates its input** (it deletes every ``run`` key): the adapter only
  ever hands it a deep copy, so the caller's dict is untouched.
* **Re-registration.** ``Host`` refuses a name it already holds, and has no public delete.
  ``register`` of a known name is a no-op (the name is expected to carry a content hash; a
  *different* body under a known name raises ``EngineError``). ``unregister`` uses the
  private ``Host._ruleset_directory``/``_ruleset_list`` and the C function
  ``delete_ruleset``, under the lock so no evaluation is in flight on the handle. Measured:
  a name can be registered again after ``unregister``, and 300 register/unregister cycles
  of a 30-rule ruleset grow RSS by about 1.4 MiB in total (no per-cycle leak).
* **Semantics the caller must know** (not hidden, they are the engine's rule language):
  ``$neq``/``$lt``/... do not match a property that is absent from the input, so build
  complete inputs.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, TypeAlias

import durable.engine as _durable  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "KEY_PATTERN",
    "LEAK_RECYCLE_THRESHOLD",
    "MAX_EVENT_KEYS",
    "MAX_INT",
    "MAX_PRI",
    "MAX_STRING_LENGTH",
    "NO_MATCH_ACTION",
    "RESERVED_KEYS",
    "RULESET_NAME_PATTERN",
    "DurableEngine",
    "EngineActionFailed",
    "EngineError",
    "EngineInputError",
    "EngineNoDecision",
    "RulesetDefinition",
    "Scalar",
    "fnv1a_32",
]

Scalar: TypeAlias = str | int | bool
RulesetDefinition: TypeAlias = dict[str, Any]


class EngineError(Exception):
    """The engine could not produce an answer. Never means "allowed"."""

    code: ClassVar[str] = "engine_error"


class EngineNoDecision(EngineError):
    """No rule fired, or the engine completed no action."""

    code: ClassVar[str] = "engine_no_decision"


class EngineActionFailed(EngineError):
    """An action raised; durable-rules stored the exception in the session state."""

    code: ClassVar[str] = "engine_action_failed"


class EngineInputError(EngineError):
    """A ruleset definition or an input value that the adapter refuses to pass on."""

    code: ClassVar[str] = "engine_input_error"


KEY_PATTERN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
RULESET_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}")
RESERVED_KEYS: Final = frozenset({"req_id", "sid", "id"})
MAX_EVENT_KEYS: Final = 200
MAX_STRING_LENGTH: Final = 1000
MAX_INT: Final = 2**53 - 1
MAX_PRI: Final = 1_000_000
NO_MATCH_ACTION: Final = "__bevilling_no_match__"
LEAK_RECYCLE_THRESHOLD: Final = 64
_KEY_CACHE_SIZE: Final = 1024

_CATCH_ALL_PRI: Final = MAX_PRI + 1
_ENGINE_PROPERTIES: Final = ("sid", "id", "req_id", "$s")
_RULE_KEYS: Final = frozenset({"all", "pri", "run"})
_ORDER_OPERATORS: Final = frozenset({"$lt", "$lte", "$gt", "$gte"})
_EQUALITY_OPERATORS: Final = frozenset({"$eq", "$neq"})
_EXISTENCE_OPERATORS: Final = frozenset({"$ex", "$nex"})
_BOOLEAN_OPERATORS: Final = frozenset({"$and", "$or"})
_FNV_OFFSET_BASIS: Final = 0x811C9DC5
_FNV_PRIME: Final = 0x01000193


@functools.lru_cache(maxsize=4096)
def fnv1a_32(name: str) -> int:
    """The 32-bit FNV-1a hash durable-rules uses to identify a property name (ASCII names)."""
    value = _FNV_OFFSET_BASIS
    for byte in name.encode("ascii"):
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


@dataclass(frozen=True)
class _Ruleset:
    """A validated ruleset: what was registered and what evaluation checks inputs against."""

    digest: str
    engine_definition: RulesetDefinition  # with the catch-all rule; durable only gets deep copies
    property_types: Mapping[str, type | None]  # condition property -> required input type
    hash_owners: Mapping[int, str]  # FNV-1a hash -> the one name allowed to have it
    actions: frozenset[str]
    key_cache: dict[tuple[str, ...], tuple[type | None, ...]] = field(default_factory=dict, compare=False)
    """Key tuples of inputs already validated -> required type per key (filled under the lock)."""


class _SyncHost(_durable.Host):  # type: ignore[misc]
    """A ``Host`` without the timer threads; action names resolve through ``resolve``."""

    def __init__(self, resolve: Callable[[str], Callable[[Any], None]]) -> None:
        self._resolve = resolve
        super().__init__()

    def _run(self) -> None:
        """Start nothing: no dispatcher, no timers; actions run inside ``post``."""

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        return self._resolve(action_name)

    def load_ruleset(self, ruleset_name: str) -> RulesetDefinition:
        raise EngineError(f"ruleset {ruleset_name!r} is not registered")


class DurableEngine:
    """Evaluates registered durable-rules rulesets, one fresh session per call, fail-closed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._host = _SyncHost(self._make_action)
        self._rulesets: dict[str, _Ruleset] = {}
        self._sink: dict[str, list[str]] = {}
        self._touched: set[str] = set()
        self._leaked: dict[str, int] = {}
        self._recycles = 0
        # Session ids: a random per-engine prefix and a counter (uuid4 per call costs ~3 µs).
        # At most one session is alive at a time (the lock), so uniqueness is all that matters.
        self._sid_prefix = uuid.uuid4().hex[:16]
        self._sid_counter = itertools.count()

    # -- registration -------------------------------------------------------------------

    def register(self, name: str, definition: RulesetDefinition) -> None:
        """Register ``definition`` under ``name``; a no-op if ``name`` is already registered."""
        if not isinstance(name, str) or not RULESET_NAME_PATTERN.fullmatch(name):
            raise EngineInputError(f"ruleset name {name!r} must match {RULESET_NAME_PATTERN.pattern}")
        digest = _digest(name, definition)
        with self._lock:
            known = self._rulesets.get(name)
            if known is not None:
                if known.digest != digest:
                    raise EngineError(
                        f"ruleset {name!r} is already registered with different content; "
                        "register changed rules under a new name"
                    )
                return
            ruleset = _compile(name, definition, digest)
            self._create(name, ruleset)
            self._rulesets[name] = ruleset

    def is_registered(self, name: str) -> bool:
        with self._lock:
            return name in self._rulesets

    def unregister(self, name: str) -> None:
        """Delete the ruleset from the engine; unknown names are ignored.

        durable-rules has no public way to delete a ruleset: this uses the private host
        directory and the C ``delete_ruleset``, under the lock so no evaluation is using the
        handle. Every session has already been deleted by then (``finally`` of each call).
        """
        with self._lock:
            if self._rulesets.pop(name, None) is not None:
                self._leaked.pop(name, None)
                self._destroy(name)

    # -- evaluation ---------------------------------------------------------------------

    def first(self, name: str, event: Mapping[str, Scalar]) -> str:
        """Post ``event``; return the action of the lowest-``pri`` matching rule."""
        fired = self._evaluate(name, event, as_fact=False)
        if fired == [NO_MATCH_ACTION]:
            raise EngineNoDecision(f"ruleset {name!r}: no rule matched the event")
        if len(fired) != 1 or fired[0] == NO_MATCH_ACTION:
            raise EngineError(f"ruleset {name!r}: expected exactly one action for an event, got {fired}")
        return fired[0]

    def all(self, name: str, fact: Mapping[str, Scalar]) -> list[str]:
        """Assert ``fact``; return the actions of every matching rule in ``pri`` order."""
        fired = self._evaluate(name, fact, as_fact=True)
        if not fired or fired[-1] != NO_MATCH_ACTION or NO_MATCH_ACTION in fired[:-1]:
            raise EngineError(f"ruleset {name!r}: the catch-all rule did not fire last, got {fired}")
        return fired[:-1]

    def _evaluate(self, name: str, message: Mapping[str, Scalar], *, as_fact: bool) -> list[str]:
        kind = "fact" if as_fact else "event"
        req_id = f"{self._sid_prefix}{next(self._sid_counter)}"
        with self._lock:
            ruleset = self._rulesets.get(name)
            if ruleset is None:
                raise EngineError(f"ruleset {name!r} is not registered")
            payload = _validated_input(name, ruleset, message)
            payload["sid"] = req_id
            payload["req_id"] = req_id
            state: Any = None
            failure: Exception | None = None
            try:
                try:
                    if as_fact:
                        state = self._host.assert_fact(name, payload)
                    else:
                        state = self._host.post(name, payload)
                except Exception as exc:  # durable raises bare Exception, its C error and MemoryError
                    failure = exc
            finally:
                fired = self._sink.pop(req_id, [])
                touched = req_id in self._touched
                self._touched.discard(req_id)
                self._release_session(name, req_id, touched=touched)

        if failure is not None:
            if isinstance(failure, _durable.MessageNotHandledException):
                # Unreachable while the catch-all rule matches every message; never "no reasons".
                error = EngineError if as_fact else EngineNoDecision
                raise error(f"ruleset {name!r}: the {kind} was not handled") from failure
            detail = getattr(failure, "message", None) or str(failure) or type(failure).__name__
            raise EngineError(f"ruleset {name!r}: durable-rules failed on the {kind}: {detail}") from failure
        if not isinstance(state, dict):
            if state is None or state == 0:
                raise EngineNoDecision(f"ruleset {name!r}: the engine completed no action for the {kind}")
            raise EngineError(f"ruleset {name!r}: unexpected engine result {state!r}")
        if "exception" in state:
            stored = str(state["exception"]).split(", traceback ", 1)[0]  # the traceback is durable's glue
            raise EngineActionFailed(f"ruleset {name!r}: an action failed: {stored[:500]}")
        if state.get("sid") != req_id:
            raise EngineError(f"ruleset {name!r}: the engine answered for another session")
        unknown = [action for action in fired if action not in ruleset.actions]
        if unknown:
            raise EngineError(f"ruleset {name!r}: unknown actions fired: {unknown}")
        return fired

    # -- engine plumbing (call with the lock held) -----------------------------------------

    def _make_action(self, action_name: str) -> Callable[[Any], None]:
        def action(c: Any) -> None:
            req_id = str(c.m.req_id)
            self._touched.add(req_id)
            self._write_sink(req_id, action_name)

        return action

    def _write_sink(self, req_id: str, action_name: str) -> None:
        self._sink.setdefault(req_id, []).append(action_name)

    def _release_session(self, name: str, sid: str, *, touched: bool) -> None:
        if touched:
            try:
                self._host.delete_state(name, sid)
            except Exception as exc:
                raise EngineError(f"ruleset {name!r}: could not delete the session: {exc}") from exc
            return
        # No action ran in this session: delete_state would crash the process (see module
        # docstring). Leave it; recycle the ruleset long before the 1,024-session cap.
        leaked = self._leaked.get(name, 0) + 1
        self._leaked[name] = leaked
        if leaked >= LEAK_RECYCLE_THRESHOLD:
            try:
                self._destroy(name)
                self._create(name, self._rulesets[name])
            except EngineError:
                self._rulesets.pop(name, None)
                raise
            self._leaked[name] = 0
            self._recycles += 1

    def _create(self, name: str, ruleset: _Ruleset) -> None:
        try:
            self._host.set_rulesets({name: copy.deepcopy(ruleset.engine_definition)})
        except Exception as exc:
            raise EngineError(f"ruleset {name!r}: durable-rules refused it: {exc}") from exc

    def _destroy(self, name: str) -> None:
        directory: dict[str, Any] = self._host._ruleset_directory
        handle_owner = directory.pop(name, None)
        if handle_owner is None:
            return
        self._host._ruleset_list.remove(handle_owner)
        try:
            _durable.durable_rules_engine.delete_ruleset(handle_owner._handle)
        except Exception as exc:
            raise EngineError(f"ruleset {name!r}: could not delete it from durable-rules: {exc}") from exc


# -- validation (pure) ------------------------------------------------------------------------


def _digest(name: str, definition: RulesetDefinition) -> str:
    try:
        canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EngineInputError(f"ruleset {name!r} is not plain JSON: {exc}") from exc
    return hashlib.sha256(canonical.encode()).hexdigest()


def _scalar_problem(value: object) -> str | None:
    """Why ``value`` may not reach the engine, or ``None`` if it may."""
    if type(value) is bool:
        return None
    if type(value) is int:
        return None if -MAX_INT <= value <= MAX_INT else f"integer {value} is outside +/-{MAX_INT}"
    if type(value) is str:
        if len(value) > MAX_STRING_LENGTH:
            return f"string longer than {MAX_STRING_LENGTH} characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "string is not valid Unicode text"
        return None
    return f"value {value!r} of type {type(value).__name__} is not str, int or bool"


def _key_problem(key: object) -> str | None:
    """Why ``key`` may not be a property name, or ``None`` if it may."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        return f"key {key!r} is not an ASCII identifier (max 100 characters)"
    if key in RESERVED_KEYS:
        return f"key {key!r} is reserved"
    return None


def _check_property(where: str, prop: object, value: object) -> str:
    problem = _key_problem(prop) or _scalar_problem(value)
    if problem is not None or not isinstance(prop, str):
        raise EngineInputError(f"{where}: {problem}")
    return prop


def _checked_keys(name: str, ruleset: _Ruleset, keys: tuple[object, ...]) -> tuple[type | None, ...]:
    """Validate a message's key set once: names, reserved keys, hash collisions.

    Returns the required input type per key (``None``: any scalar). Depends on the keys
    only, so ``_validated_input`` caches it per key tuple on the ruleset.
    """
    if len(keys) > MAX_EVENT_KEYS:
        raise EngineInputError(f"ruleset {name!r} input: {len(keys)} keys, at most {MAX_EVENT_KEYS} allowed")
    own_hashes: dict[int, str] = {}
    expected: list[type | None] = []
    for key in keys:
        problem = _key_problem(key)
        if problem is None and isinstance(key, str):
            hashed = fnv1a_32(key)
            owner = ruleset.hash_owners.get(hashed) or own_hashes.get(hashed)
            if owner is not None and owner != key:
                problem = f"key {key!r} collides with {owner!r} under the engine's hash"
            own_hashes[hashed] = key
            expected.append(ruleset.property_types.get(key))
        if problem is not None:
            raise EngineInputError(f"ruleset {name!r} input: {problem}")
    return tuple(expected)


def _validated_input(name: str, ruleset: _Ruleset, message: Mapping[str, Scalar]) -> dict[str, Any]:
    if not isinstance(message, Mapping):
        raise EngineInputError(f"ruleset {name!r} input: expected a mapping, got {type(message).__name__}")
    keys = tuple(message)
    expected_types = ruleset.key_cache.get(keys)
    if expected_types is None:
        expected_types = _checked_keys(name, ruleset, keys)
        if len(ruleset.key_cache) < _KEY_CACHE_SIZE:  # callers hold the engine lock
            ruleset.key_cache[keys] = expected_types
    payload: dict[str, Any] = {}
    for (key, value), expected in zip(message.items(), expected_types, strict=True):
        problem = _scalar_problem(value)
        if problem is None and expected is not None and type(value) is not expected:
            problem = f"{key!r} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        if problem is not None:
            raise EngineInputError(f"ruleset {name!r} input: {problem}")
        payload[key] = value
    return payload


def _compile(name: str, definition: RulesetDefinition, digest: str) -> _Ruleset:
    if not isinstance(definition, dict) or not definition:
        raise EngineInputError(f"ruleset {name!r}: expected a non-empty dict of rules")
    rules: RulesetDefinition = copy.deepcopy(definition)
    types: dict[str, set[type]] = {}
    priorities: dict[int, str] = {}
    actions: set[str] = set()
    for rule_name, rule in rules.items():
        where = f"ruleset {name!r} rule {rule_name!r}"
        if not isinstance(rule_name, str) or not rule_name or rule_name.startswith("__bevilling"):
            raise EngineInputError(f"{where}: rule names must be non-empty and not start with '__bevilling'")
        if not isinstance(rule, dict) or set(rule) != _RULE_KEYS:
            keys = sorted(rule) if isinstance(rule, dict) else type(rule).__name__
            raise EngineInputError(f"{where}: a rule has exactly the keys all, pri, run; got {keys}")
        action, pri, patterns = rule["run"], rule["pri"], rule["all"]
        if not isinstance(action, str) or not action or action == NO_MATCH_ACTION:
            raise EngineInputError(f"{where}: 'run' must be a non-empty action name")
        if type(pri) is not int or not 0 <= pri <= MAX_PRI:
            raise EngineInputError(f"{where}: 'pri' must be an int in 0..{MAX_PRI}")
        if pri in priorities:
            raise EngineInputError(f"{where}: 'pri' {pri} is also used by rule {priorities[pri]!r}")
        priorities[pri] = rule_name
        if not (
            isinstance(patterns, list)
            and len(patterns) == 1
            and isinstance(patterns[0], dict)
            and set(patterns[0]) == {"m"}
        ):
            raise EngineInputError(f"{where}: 'all' must be a list of exactly one {{'m': condition}}")
        _walk_condition(where, patterns[0]["m"], types)
        actions.add(action)

    property_types: dict[str, type | None] = {}
    for prop, seen in types.items():
        if len(seen) > 1:
            names = sorted(kind.__name__ for kind in seen)
            raise EngineInputError(f"ruleset {name!r}: property {prop!r} is compared with {names}")
        property_types[prop] = next(iter(seen), None)

    hash_owners: dict[int, str] = {}
    for prop in (*_ENGINE_PROPERTIES, *sorted(property_types)):
        hashed = fnv1a_32(prop)
        if hash_owners.setdefault(hashed, prop) != prop:
            raise EngineInputError(
                f"ruleset {name!r}: properties {hash_owners[hashed]!r} and {prop!r} "
                "collide under the engine's hash; rename one"
            )

    rules[NO_MATCH_ACTION] = {
        "all": [{"m": {"$ex": {"req_id": 1}}}],
        "pri": _CATCH_ALL_PRI,
        "run": NO_MATCH_ACTION,
    }
    return _Ruleset(
        digest=digest,
        engine_definition=rules,
        property_types=property_types,
        hash_owners=hash_owners,
        actions=frozenset(actions | {NO_MATCH_ACTION}),
    )


def _walk_condition(where: str, condition: object, types: dict[str, set[type]]) -> None:
    if not isinstance(condition, dict) or len(condition) != 1:
        raise EngineInputError(f"{where}: a condition is an object with exactly one key, got {condition!r}")
    ((operator, operand),) = condition.items()
    if operator in _BOOLEAN_OPERATORS:
        if not isinstance(operand, list) or not operand:
            raise EngineInputError(f"{where}: {operator} takes a non-empty list of conditions")
        for part in operand:
            _walk_condition(where, part, types)
        return
    if operator in _ORDER_OPERATORS | _EQUALITY_OPERATORS | _EXISTENCE_OPERATORS:
        if not isinstance(operand, dict) or len(operand) != 1:
            raise EngineInputError(f"{where}: {operator} takes {{property: value}}, got {operand!r}")
        ((prop, value),) = operand.items()
        prop = _check_property(where, prop, value)
        if operator in _EXISTENCE_OPERATORS:
            if type(value) is not int or value != 1:
                raise EngineInputError(f"{where}: {operator} takes {{property: 1}}")
            types.setdefault(prop, set())
            return
        if operator in _ORDER_OPERATORS and type(value) is not int:
            raise EngineInputError(f"{where}: {operator} compares integers only, got {value!r}")
        types.setdefault(prop, set()).add(type(value))
        return
    if isinstance(operator, str) and operator.startswith("$"):
        raise EngineInputError(f"{where}: unsupported operator {operator!r}")
    prop = _check_property(where, operator, operand)
    types.setdefault(prop, set()).add(type(operand))
