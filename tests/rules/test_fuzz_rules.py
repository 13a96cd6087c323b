"""Fuzzing ``bevilling rules check`` with generated rule files.

Whatever a case officer saves, ``check_path`` must answer with problems, never raise: a
valid file gives either no problems or problems about its rules, a broken one gives
problems that each name a file of the book, a line inside that file and a reason.

* valid files are built from the model's vocabulary (kinds, selectors, times, day tags,
  the national file's venues and outlets, declarations of the file's own);
* broken files are random mutations of the bundled rule files and the test cases:
  deleted, duplicated and swapped lines, changed indentation, wrong types, unknown keys,
  impossible times, random unicode, truncation and binary garbage.

Every example is checked in a temporary folder next to a copy of ``rules/national.yaml``,
as ``bevilling rules check`` checks a kommune's file. A check costs about a second
(the national file is judged over its whole calendar each time), so the ``ci`` profile
runs a bounded number of examples; ``thorough`` (``BEVILLING_THOROUGH=1``) runs many
more, and ``BEVILLING_FUZZ_EXAMPLES`` sets the count outright.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bevilling.rules.check import check_path
from bevilling.rules.loader import Problem, load_file
from bevilling.rules.model import (
    APPLICATION_FLAGS,
    Area,
    ConditionKind,
    HearingBody,
    Licence,
    serving_minute,
)
from bevilling.situation import DAY_TAGS

HERE = Path(__file__).parent
RULES = HERE.parents[1] / "rules"
NATIONAL = RULES / "national.yaml"
NAME = "fuzzby.yaml"

# The bundled files and the checker's own test cases: the seeds the mutations start from.
# (The national file itself is left out: it is long, and it is always in the book.)
SEEDS = sorted(
    [p for p in RULES.rglob("*.yaml") if p != NATIONAL]
    + [p for p in (HERE / "good").rglob("*.yaml")]
    + [p for p in (HERE / "bad").rglob("*.yaml")]
)
SEED_TEXTS = {str(p.relative_to(HERE.parents[1])): p.read_text(encoding="utf-8") for p in SEEDS}


def _examples(ci: int) -> int:
    """``ci`` examples under the ci profile, many more under thorough; the env var wins."""
    forced = os.environ.get("BEVILLING_FUZZ_EXAMPLES")
    if forced:
        return int(forced)
    return max(ci, settings.default.max_examples // 100)


def fuzz(ci_examples: int) -> settings:
    return settings(
        max_examples=_examples(ci_examples),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        deadline=None,
    )


# --- the property -------------------------------------------------------------------------------


def _line_count(data: bytes) -> int:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return 1  # unreadable: the only line a reason can name is the first
    return max(1, len(text.splitlines()))


def check_generated(data: bytes) -> list[Problem]:
    """``check_path`` on the national file plus ``data``; asserts the answer is well formed."""
    with tempfile.TemporaryDirectory(prefix="fuzz-rules-") as tmp:
        book = Path(tmp)
        shutil.copy(NATIONAL, book / "national.yaml")
        (book / NAME).write_bytes(data)
        problems = check_path(book)  # must never raise
        lines = {
            str(book / "national.yaml"): _line_count(NATIONAL.read_bytes()),
            str(book / NAME): _line_count(data),
        }
    shown = "\n".join(str(p) for p in problems[:20])
    for problem in problems:
        assert isinstance(problem, Problem), shown
        assert problem.file in lines, f"a problem in a file that is not in the book:\n{shown}"
        assert isinstance(problem.line, int), shown
        assert 1 <= problem.line <= lines[problem.file], (
            f"line {problem.line} is outside {Path(problem.file).name} "
            f"({lines[problem.file]} lines):\n{shown}"
        )
        assert isinstance(problem.reason, str) and problem.reason.strip(), f"empty reason:\n{shown}"
        assert str(problem) == f"{problem.file}:{problem.line}: {problem.reason}"
    return problems


# --- valid files from the model's vocabulary -----------------------------------------------------

NATIONAL_VENUES = [
    "serveringssted",
    "bar",
    "nattklubb",
    "overnattingssted",
    "konsert",
    "festival",
    "kantine",
    "sluttet_selskap",
]
NATIONAL_OUTLETS = ["butikk", "vinmonopol", "gardsutsalg", "bensinstasjon", "kiosk"]
NATIONAL_FACTS = {"unntatt_helligdagsloven": "bool"}
OWN_ZONES = ["sentrum", "boligomrade", "havna"]
OWN_VENUES = ["flyplass", "hytte"]
OWN_OUTLETS = ["nettbutikk"]
OWN_SEASONS = ["julebord", "sommer"]
OWN_FACTS = {"hotellgjest": "bool", "antall_gjester": "int", "omrade": "text"}
SOURCE = {"ref": "plan", "section": "§ 1"}

minutes = st.integers(0, 24 * 60)


def _clock(minute: int) -> str:
    return "24:00" if minute >= 24 * 60 else f"{minute // 60:02d}:{minute % 60:02d}"


clocks = minutes.map(_clock)


@st.composite
def sales_windows(draw: st.DrawFn) -> dict[str, str]:
    start = draw(st.integers(0, 24 * 60 - 1))
    end = draw(st.integers(start + 1, 24 * 60))
    return {"from": _clock(start), "to": _clock(end)}


@st.composite
def serving_windows(draw: st.DrawFn) -> dict[str, str]:
    first, second = sorted(draw(st.lists(clocks, min_size=2, max_size=2, unique=True)), key=serving_minute)
    return {"from": first, "to": second}


def _subset(values: list[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=min(3, len(values)), unique=True)


fact_values = {
    "bool": st.booleans(),
    "int": st.integers(-5, 100),
    "text": st.sampled_from(["a", "sentrum", "øst"]),
}


@st.composite
def selectors(draw: st.DrawFn, declared: dict[str, Any], domain: str | None) -> dict[str, Any]:
    """A ``when`` naming only what the file or the national file declares."""
    venues = NATIONAL_VENUES + list(declared["venues"])
    outlets = NATIONAL_OUTLETS + list(declared["outlets"])
    options: dict[str, st.SearchStrategy[Any]] = {
        "groups": _subset([1, 2, 3]),
        "days": _subset(sorted(DAY_TAGS)),
    }
    if domain != "salg":
        options["areas"] = _subset([a.value for a in Area])
        options["venues"] = _subset(venues)
    if domain != "skjenking":
        options["outlets"] = _subset(outlets)
    if domain is None:
        options["licences"] = _subset([lic.value for lic in Licence])
        options["application"] = st.dictionaries(
            st.sampled_from(sorted(APPLICATION_FLAGS)), st.booleans(), min_size=1, max_size=2
        )
        options["event"] = st.fixed_dictionaries(
            {}, optional={"under_18": st.booleans(), "sports": st.booleans(), "family": st.booleans()}
        )
    if declared["zones"]:
        options["zones"] = _subset(list(declared["zones"]))
    if declared["seasons"]:
        options["seasons"] = _subset(list(declared["seasons"]))
    facts = {**NATIONAL_FACTS, **{k: v["type"] for k, v in declared["facts"].items()}}
    options["facts"] = st.sampled_from(sorted(facts)).flatmap(
        lambda k: fact_values[facts[k]].map(lambda v: {k: v})
    )
    chosen = draw(st.lists(st.sampled_from(sorted(options)), max_size=3, unique=True))
    return {key: draw(options[key]) for key in chosen}


@st.composite
def rules(draw: st.DrawFn, declared: dict[str, Any], label: str) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "salgstid",
                "skjenketid",
                "salgstid_grense",
                "skjenketid_grense",
                "hoyeste_gruppe",
                "avslag",
                "forutsetning",
                "vilkar",
                "skjonn",
                "horing",
            ]
        )
    )
    rule: dict[str, Any] = {"id": label, "kind": kind}
    domain = {"salgstid": "salg", "salgstid_grense": "salg"}.get(
        kind, "skjenking" if kind.startswith("skjenketid") else None
    )
    rule["when"] = draw(selectors(declared, domain))
    if kind in ("salgstid", "skjenketid"):
        if draw(st.booleans()) or kind == "salgstid":
            rule["window"] = draw(sales_windows() if kind == "salgstid" else serving_windows())
        else:
            rule["closed"] = True  # refused locally by the static checks: still no crash
    elif kind.endswith("_grense"):
        limit = draw(st.fixed_dictionaries({}, optional={"not_before": clocks, "not_after": clocks}))
        rule.update(limit or {"closed": True})
        rule["enforcement"] = draw(st.sampled_from(["reject", "cap"]))
    elif kind == "hoyeste_gruppe":
        rule["max_group"] = draw(st.sampled_from([1, 2, 3]))
    elif kind == "avslag":
        rule["when"] = rule["when"] or {"licences": ["salg"]}
        if draw(st.booleans()):
            rule["unless"] = draw(selectors(declared, None))
        rule["reason"] = "Ikke tillatt her."
    elif kind == "forutsetning":
        rule["requires"] = draw(st.sampled_from(sorted(APPLICATION_FLAGS)))
        rule["reason"] = "Må dokumenteres."
    elif kind == "vilkar":
        rule["condition"] = draw(st.sampled_from([c.value for c in ConditionKind]))
        rule["text"] = "Vilkår."
        rule["discretionary"] = draw(st.booleans())
        if rule["condition"] == "aldersgrense":
            rule["age"] = draw(st.integers(18, 25))
    elif kind == "skjonn":
        rule["text"] = "Vurder."
    elif kind == "horing":
        rule["body"] = draw(st.sampled_from([b.value for b in HearingBody]))
        rule["required"] = draw(st.booleans())
    if not rule["when"]:
        del rule["when"]
    if draw(st.booleans()):
        start = draw(st.dates(date(2015, 1, 1), date(2035, 12, 31)))
        rule["valid_from"] = start
        if draw(st.booleans()):
            rule["valid_to"] = start + timedelta(days=draw(st.integers(0, 3000)))
    rule["source"] = SOURCE
    rule["hjemmel"] = "alkoholloven § 4-4" if domain == "skjenking" else "alkoholloven § 3-7"
    return rule


def _declarations(names: list[str], make: Any) -> dict[str, Any]:
    return {name: make(name) for name in names}


@st.composite
def valid_files(draw: st.DrawFn) -> dict[str, Any]:
    level = draw(st.sampled_from(["kommune", "kommune", "region"]))
    valid_from = draw(st.dates(date(2000, 1, 1), date(2035, 12, 31)))
    seasons = draw(st.lists(st.sampled_from(OWN_SEASONS), unique=True))
    facts = draw(st.lists(st.sampled_from(sorted(OWN_FACTS)), unique=True))
    declared: dict[str, Any] = {
        "zones": _declarations(
            draw(st.lists(st.sampled_from(OWN_ZONES), unique=True)),
            lambda n: {"meaning": f"Sonen {n}.", "source": SOURCE},
        ),
        "venues": _declarations(
            draw(st.lists(st.sampled_from(OWN_VENUES), unique=True)),
            lambda n: {"meaning": f"Stedet {n}.", "licence": ["skjenking"], "source": SOURCE},
        ),
        "outlets": _declarations(
            draw(st.lists(st.sampled_from(OWN_OUTLETS), unique=True)),
            lambda n: {"meaning": f"Utsalget {n}.", "licence": ["salg"], "source": SOURCE},
        ),
        "seasons": {
            n: {
                "from": draw(st.sampled_from(["01-01", "06-15", "11-15", "12-24"])),
                "to": draw(st.sampled_from(["01-06", "08-15", "12-23", "12-31"])),
                "meaning": f"Sesongen {n}.",
                "source": SOURCE,
            }
            for n in seasons
        },
        "facts": {n: {"type": OWN_FACTS[n], "meaning": f"Faktum {n}.", "source": SOURCE} for n in facts},
    }
    file: dict[str, Any] = {
        "schema": "bevilling/rules/v1",
        "level": level,
        "slug": "fuzzby",
        "name": "Fuzzby",
    }
    if level == "kommune":
        file["kommunenummer"] = "99" + draw(st.sampled_from(["01", "42", "99"]))
    file["valid_from"] = valid_from
    if draw(st.booleans()):
        file["valid_to"] = valid_from + timedelta(days=draw(st.integers(0, 4000)))
    file["sources"] = {"plan": {"title": "Fuzzby retningslinjer", "seed": "fuzz.txt"}}
    file["silent"] = draw(st.lists(st.sampled_from(["Vinmonopolet", "Prikker"]), unique=True))
    file.update({k: v for k, v in declared.items() if v})
    count = draw(st.integers(0, 6))
    file["rules"] = [draw(rules(declared, f"fuzzby.regel-{n}")) for n in range(count)]
    return file


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # the loader refuses aliases: write shared values out


def _dump(file: dict[str, Any], flow: bool) -> bytes:
    text = yaml.dump(
        file, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=None if flow else False
    )
    return text.encode("utf-8")


@fuzz(12)
@given(file=valid_files(), flow=st.booleans())
def test_valid_generated_files_load_and_check_cleanly(
    file: dict[str, Any], flow: bool, stats: Counter[str]
) -> None:
    data = _dump(file, flow)
    with tempfile.TemporaryDirectory(prefix="fuzz-rules-") as tmp:
        path = Path(tmp) / NAME
        path.write_bytes(data)
        load_file(path)  # a file built from the vocabulary is a valid file
    problems = check_generated(data)
    stats["rules fuzz: valid files checked"] += 1
    stats["rules fuzz: valid files the checker faults (rules beyond the law)"] += bool(problems)


# --- broken files: mutations of the bundled ones -------------------------------------------------

WRONG_VALUES = [
    "[]",
    "{}",
    "null",
    "~",
    "true",
    "no",
    "12",
    "-1",
    "1.5e400",
    ".nan",
    "0x1F",
    "99999999999999999999999999",
    "'x'",
    '""',
    "2020-13-45",
    "2020-02-30",
    "9999-12-31",
    "0001-01-01",
    "25:61",
    '"25:61"',
    '"24:01"',
    "99:99",
    "-01:00",
    '"7:5"',
    "[1, 2, 2]",
    "{from: '08:00'}",
    "&anchor x",
    "*anchor",
    "!!binary aGVsbG8=",
    "!!python/object:os.system x",
    "!custom x",
    "!!set {a, b}",
    "<<: {a: 1}",
    "|\n  block",
    "'unterminated",
    "[unclosed",
    "{a: 1, a: 2}",
    "æøå 🍺",
]
UNKNOWN_KEYS = ["colour: red", "rules2: []", "when: {groups: [4]}", "kind: ukjent", "id: Big Label", "x:"]
KINDS = ["salgstid", "skjenketid", "prikk", "gebyrsats", "alkoholgruppe", "inndragning", "ukjent", "[]"]
GARBAGE = st.binary(min_size=1, max_size=40)


@st.composite
def mutation(draw: st.DrawFn, lines: list[str]) -> list[str]:
    """One random edit of the file's lines."""
    if not lines:
        lines = [""]
    at = draw(st.integers(0, len(lines) - 1))
    line = lines[at]
    what = draw(
        st.sampled_from(
            [
                "delete",
                "duplicate",
                "swap",
                "indent",
                "wrong_value",
                "unknown_key",
                "time",
                "kind",
                "unicode",
                "truncate_line",
            ]
        )
    )
    if what == "swap":
        other = draw(st.integers(0, len(lines) - 1))
        swapped = list(lines)
        swapped[at], swapped[other] = swapped[other], swapped[at]
        return swapped
    replacement: list[str]  # what line ``at`` becomes
    if what == "delete":
        replacement = []
    elif what == "duplicate":
        replacement = [line, line]
    elif what == "indent":
        indent = draw(st.sampled_from(["", " ", "   ", "\t", "      ", " " * 20]))
        replacement = [indent + line.lstrip(" ")]
    elif what == "wrong_value":
        head, colon, _ = line.partition(": ")
        value = draw(st.sampled_from(WRONG_VALUES))
        replacement = (f"{head}: {value}" if colon else f"{line} {value}").split("\n")
    elif what == "unknown_key":
        indent = line[: len(line) - len(line.lstrip(" "))]
        replacement = [indent + draw(st.sampled_from(UNKNOWN_KEYS)), line]
    elif what == "time":
        time = f"{draw(st.integers(0, 99)):02d}:{draw(st.integers(0, 99)):02d}"
        replacement = [_replace_time(line, f'"{time}"' if draw(st.booleans()) else time)]
    elif what == "kind":
        replacement = [_replace_after(line, "kind: ", draw(st.sampled_from(KINDS)))]
    elif what == "unicode":
        noise = draw(st.text(min_size=1, max_size=12))
        cut = draw(st.integers(0, len(line)))
        replacement = [line[:cut] + noise + line[cut:]]
    else:  # truncate_line
        replacement = [line[: draw(st.integers(0, len(line)))]]
    return [*lines[:at], *replacement, *lines[at + 1 :]]


def _replace_time(line: str, time: str) -> str:
    new, count = re.subn(r'"?\b\d{1,2}:\d{2}\b"?', time, line, count=1)
    return new if count else f"{line} {time}"


def _replace_after(line: str, marker: str, value: str) -> str:
    head, found, tail = line.partition(marker)
    if not found:
        return f"{line} {marker}{value}"
    rest = tail.split(",", 1)
    return head + marker + value + ("," + rest[1] if len(rest) > 1 else "")


@st.composite
def broken_files(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(sorted(SEED_TEXTS)))
    lines = SEED_TEXTS[name].split("\n")
    for _ in range(draw(st.integers(1, 4))):
        lines = draw(mutation(lines))
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    ending = draw(st.sampled_from(["keep", "keep", "keep", "truncate", "garbage", "crlf", "bom"]))
    if ending == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif ending == "garbage":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(GARBAGE) + data[at:]
    elif ending == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif ending == "bom":
        data = b"\xef\xbb\xbf" + data
    return data


@fuzz(50)
@given(data=broken_files())
def test_broken_files_never_crash_the_checker(data: bytes, stats: Counter[str]) -> None:
    problems = check_generated(data)
    stats["rules fuzz: broken files checked"] += 1
    stats["rules fuzz: broken files still valid (a harmless mutation)"] += not problems


@fuzz(20)
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_garbage_never_crashes_the_checker(data: bytes, stats: Counter[str]) -> None:
    problems = check_generated(data)
    stats["rules fuzz: garbage files checked"] += 1
    assert problems, "garbage passed the checker"


# --- what the fuzzing found ---------------------------------------------------------------------

AT_THE_LIMITS = (HERE / "good" / "at_the_limits" / "testby.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # an alias of its own ancestor: endless recursion when the tree was converted
        (AT_THE_LIMITS + "silent: &x [*x]\n", "aliases"),
        # aliases that multiply ("billion laughs"): exponential time and memory
        (
            AT_THE_LIMITS
            + "silent: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"note{n}: &a{n} [*a{'' if n == 0 else n - 1}, *a]\n" for n in range(1, 4)),
            "aliases",
        ),
        # nesting deeper than the interpreter's stack
        (AT_THE_LIMITS + "silent: " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
        # a file starting after the calendar's last year: year 10002 in the checker's horizon
        (AT_THE_LIMITS.replace("valid_from: 2024-01-01", "valid_from: 9999-01-01"), "after 2099"),
        # an error at the end of the stream was reported on the line after the last one
        (AT_THE_LIMITS[: AT_THE_LIMITS.index("rules:")] + "rules: [\n", "YAML"),
        (AT_THE_LIMITS + "  - {id: x\n", "YAML"),
    ],
    ids=["alias-loop", "alias-bomb", "deep-nesting", "valid-from-9999", "unclosed-list", "unclosed-map"],
)
def test_found_by_fuzzing_is_a_problem_not_a_crash(text: str, reason: str) -> None:
    problems = check_generated(text.encode("utf-8"))
    assert any(reason in p.reason and p.file.endswith(NAME) for p in problems), problems
