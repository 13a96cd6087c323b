"""``bevilling rules check``: broken rule files it must refuse, good ones it must pass.

Every case under ``bad/<case>/`` (and ``good/<case>/``) is a small rule book: its files are
checked together with a copy of ``rules/national.yaml``, unless the case brings its own
``national.yaml``. A line the checker must report ends with a comment

    # expect: <a distinctive fragment of the reason>

and the test requires a problem on exactly those lines, and on no other line, each with
its fragment in the reason. The expected line is thus the line the marker sits on.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from bevilling.calendar import day_info
from bevilling.reference import Domain, decide_window
from bevilling.rules.book import RuleBook
from bevilling.rules.check import check_path
from bevilling.rules.loader import Problem
from bevilling.rules.model import Level
from bevilling.situation import Situation

HERE = Path(__file__).parent
RULES = HERE.parents[1] / "rules"
BAD = HERE / "bad"
GOOD = HERE / "good"
MARKER = re.compile(r"#\s*expect:\s*(?P<fragment>.+?)\s*$")

# One case per check. A case the checker does not catch yet is listed in KNOWN_GAPS.
BAD_CASES = [
    # loading: YAML and the schema
    "yaml_syntax",
    "duplicate_key",
    "unknown_key",
    "wrong_type",
    "bad_time",
    "serving_window_backwards",
    "missing_source",
    "missing_kommunenummer",
    "group3_later_than_narrowed_group12",
    "sales_window_without_outlets",
    # static: sources, names, labels, files
    "unknown_source_ref",
    "declaration_unknown_source",
    "undefined_names",
    "fact_wrong_type",
    "label_validity_overlap",
    "slug_validity_overlap",
    "national_only_kind",
    "gebyr_year_twice",
    "inherits_no_region",
    "overrides_unknown",
    "whole_day_serving_cut",
    # semantic: effective rules against the national maxima
    "sales_after_20",
    "sales_after_18_lordag",
    "sales_on_sondag",
    "serving_into_03_06",
    "group3_before_13",
    "group3_later_than_group12",
    "same_rank_conflict",
]
KNOWN_GAPS: dict[str, str] = {}
GOOD_CASES = [
    "at_the_limits",
    "day_tiers_do_not_tie",
    "overrides_settle_a_tie",
    "consecutive_versions",
    "region_and_kommune",
]
SEED_KOMMUNER = {
    # slug: (file, kommunenummer, former numbers, language, seed file)
    "vennesla": ("4223-vennesla.yaml", "4223", [], "nb", "000_56973176ff562764.txt"),
    "vinje": ("4036-vinje.yaml", "4036", ["3825", "0834"], "nn", "001_55c7c80b9e808a9d.txt"),
    "vefsn": ("1824-vefsn.yaml", "1824", [], "nb", "002_24d7803c33507ec8.txt"),
    "strand": ("1130-strand.yaml", "1130", [], "nb", "003_0352dd6b6edb9d09.txt"),
}


# --- helpers -------------------------------------------------------------------------------


def _book_dir(tmp_path: Path, *cases: Path, rename: bool = False) -> Path:
    """A directory holding the national file and the files of ``cases``.

    With ``rename``, the files of the n-th case get slug ``testby<n>`` (and their own
    kommunenummer), so that several cases can share one book without overlapping.
    """
    book = tmp_path / "book"
    book.mkdir()
    if not any((case / "national.yaml").exists() for case in cases):
        shutil.copy(RULES / "national.yaml", book / "national.yaml")
    for n, case in enumerate(cases):
        for source in sorted(case.glob("*.yaml")):
            text = source.read_text(encoding="utf-8")
            if rename:
                text = text.replace("slug: testby", f"slug: testby{n}").replace('"9999"', f'"99{n:02d}"')
            target = book / (f"{case.name}-{source.name}" if rename else source.name)
            target.write_text(text, encoding="utf-8")
    return book


def _expected(book: Path) -> dict[tuple[str, int], list[str]]:
    """(file name, line) -> reason fragments, read off the ``# expect:`` markers."""
    expected: dict[tuple[str, int], list[str]] = defaultdict(list)
    for path in sorted(book.glob("*.yaml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = MARKER.search(line)
            if match:
                expected[(path.name, number)].append(match["fragment"])
    return dict(expected)


def _assert_reported(problems: list[Problem], expected: dict[tuple[str, int], list[str]]) -> None:
    shown = "\n".join(str(p) for p in problems[:40]) or "(no problems)"
    by_line: dict[tuple[str, int], list[str]] = defaultdict(list)
    for problem in problems:
        by_line[(Path(problem.file).name, problem.line)].append(problem.reason)
    assert set(by_line) == set(expected), f"reported lines differ from the # expect: markers:\n{shown}"
    for where, fragments in expected.items():
        for fragment in fragments:
            assert any(fragment in reason for reason in by_line[where]), (
                f"{where[0]}:{where[1]}: no reason contains {fragment!r}:\n{shown}"
            )


def _problem_format_ok(problems: list[Problem]) -> None:
    for problem in problems:
        assert str(problem) == f"{problem.file}:{problem.line}: {problem.reason}"
        assert problem.line >= 1


# --- Part A: broken files ------------------------------------------------------------------


def test_every_case_directory_is_listed() -> None:
    listed = set(BAD_CASES) | set(KNOWN_GAPS)
    assert {p.name for p in BAD.iterdir() if p.is_dir()} == listed
    assert {p.name for p in GOOD.iterdir() if p.is_dir()} == set(GOOD_CASES)


@pytest.mark.parametrize(
    "case",
    [
        *BAD_CASES,
        *(pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=why)) for c, why in KNOWN_GAPS.items()),
    ],
)
def test_bad_case_is_rejected_at_its_line(case: str, tmp_path: Path) -> None:
    book = _book_dir(tmp_path, BAD / case)
    expected = _expected(book)
    assert expected, f"bad/{case} has no # expect: marker"
    problems = check_path(book)
    _problem_format_ok(problems)
    _assert_reported(problems, expected)


@pytest.mark.parametrize(
    "text", ["", "\n", "# Testby: reglene kommer senere\n"], ids=["zero-bytes", "newline", "comment-only"]
)
def test_empty_file_is_rejected(text: str, tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(RULES / "national.yaml", book / "national.yaml")
    (book / "testby.yaml").write_text(text, encoding="utf-8")
    assert check_path(book) == [Problem(str(book / "testby.yaml"), 1, "the file is empty")]


def test_problems_of_several_files_are_reported_together_when_loading(tmp_path: Path) -> None:
    cases = [BAD / "yaml_syntax", BAD / "duplicate_key", BAD / "unknown_key", BAD / "missing_kommunenummer"]
    book = _book_dir(tmp_path, *cases, rename=True)
    problems = check_path(book)
    assert len({p.file for p in problems}) == len(cases)
    _assert_reported(problems, _expected(book))


def test_problems_of_several_files_are_reported_together_when_checking_names(tmp_path: Path) -> None:
    cases = [
        BAD / "unknown_source_ref",
        BAD / "declaration_unknown_source",
        BAD / "undefined_names",
        BAD / "whole_day_serving_cut",
        BAD / "overrides_unknown",
    ]
    book = _book_dir(tmp_path, *cases, rename=True)
    problems = check_path(book)
    assert len({p.file for p in problems}) == len(cases)
    _assert_reported(problems, _expected(book))


def test_problems_of_several_files_are_reported_together_when_judging_times(tmp_path: Path) -> None:
    names = ("sales_after_20", "sales_on_sondag", "serving_into_03_06", "group3_before_13")
    cases = [BAD / name for name in names]
    book = _book_dir(tmp_path, *cases, rename=True)
    problems = check_path(book)
    assert len({p.file for p in problems}) == len(cases)
    _assert_reported(problems, _expected(book))


def test_all_schema_errors_of_one_file_are_reported(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(RULES / "national.yaml", book / "national.yaml")
    text = (BAD / "bad_time" / "testby.yaml").read_text(encoding="utf-8")
    text = text.replace("    source: {ref: plan}\n", "    source: {ref: plan}\n    colour: red\n")
    (book / "testby.yaml").write_text(text, encoding="utf-8")
    reasons = [(p.line, p.reason) for p in check_path(book)]
    assert (16, "rules.[0].window.to: '25:00' is not a time of day HH:MM (00:00-24:00)") in reasons
    assert (18, "rules.[0].colour: Extra inputs are not permitted") in reasons


def test_two_kommuner_with_one_kommunenummer_are_rejected(tmp_path: Path) -> None:
    book = _book_dir(tmp_path, GOOD / "at_the_limits")
    other = (GOOD / "at_the_limits" / "testby.yaml").read_text(encoding="utf-8")
    (book / "nabobygd.yaml").write_text(other.replace("slug: testby", "slug: nabobygd"), encoding="utf-8")
    line = next(n for n, t in enumerate(other.splitlines(), start=1) if t.startswith("kommunenummer:"))
    problems = check_path(book)
    assert [p for p in problems if p.line == line and "9999" in p.reason], problems


# --- good books pass -----------------------------------------------------------------------


@pytest.mark.parametrize("case", GOOD_CASES)
def test_good_case_passes(case: str, tmp_path: Path) -> None:
    assert check_path(_book_dir(tmp_path, GOOD / case)) == []


def test_bundled_rules_pass() -> None:
    problems = check_path(RULES)
    assert problems == [], "\n".join(str(p) for p in problems)


# --- Part B: the four seed kommuner --------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> RuleBook:
    return RuleBook.load(RULES)


@pytest.mark.parametrize("slug", list(SEED_KOMMUNER))
def test_seed_kommune_is_in_the_bundled_book(slug: str, bundled: RuleBook) -> None:
    file, number, former, language, seed = SEED_KOMMUNER[slug]
    (loaded,) = bundled.by_slug[slug]
    model = loaded.model
    assert Path(loaded.path).name == file
    assert (model.level, model.kommunenummer, model.former_kommunenummer) == (Level.KOMMUNE, number, former)
    assert model.inherits is None
    assert model.language == language
    assert model.valid_to is None
    assert seed in {s.seed for s in model.sources.values()}
    assert len(model.silent) >= 10, "say item by item where the plan is silent"
    for key in (number, *former, slug):
        assert bundled.slug_of(key) == slug
    if slug != "vefsn":
        assert model.rules == [], "the seed plan has no licensing rules"


def test_strand_is_1130_not_stavanger(bundled: RuleBook) -> None:
    assert bundled.slug_of("1130") == "strand"
    assert bundled.slug_of("1103") == "stavanger"


def test_seed_kommuner_start_with_their_plans(bundled: RuleBook) -> None:
    starts = {slug: bundled.by_slug[slug][0].model.valid_from for slug in SEED_KOMMUNER}
    assert starts == {
        "vennesla": date(2020, 1, 1),
        "vinje": date(2020, 1, 1),
        "vefsn": date(2020, 1, 1),
        "strand": date(2021, 1, 1),
    }


@pytest.mark.parametrize(
    ("day", "until", "rule"),
    [
        (date(2020, 6, 3), "20:00", "vefsn.salgstid.hverdag"),  # onsdag
        (date(2020, 5, 20), "20:00", "vefsn.salgstid.hverdag"),  # dagen før Kristi himmelfartsdag
        (date(2020, 6, 6), "18:00", "vefsn.salgstid.dag_for_sondag_eller_helligdag"),  # lørdag
        (date(2020, 9, 30), "20:00", "vefsn.salgstid.hverdag"),  # siste dag på siden
        (date(2020, 10, 1), "18:00", "salgstid.normal"),  # nasjonal normaltid etterpå
        (date(2020, 10, 3), "15:00", "salgstid.normal.dag_for_sondag_eller_helligdag"),
    ],
)
def test_vefsn_sales_times_follow_the_2016_2020_page(
    bundled: RuleBook, day: date, until: str, rule: str
) -> None:
    rules = bundled.effective("1824", day)
    outcome = decide_window(rules, Domain.SALG, Situation(day=day_info(day), group=1, outlet="butikk"))
    assert outcome.window_rule == rule
    assert outcome.interval is not None
    assert (outcome.interval.start, outcome.interval.end) == (8 * 60, Domain.SALG.minute(until))
    if rule.startswith("vefsn."):
        placed = rules.by_id(rule)
        assert placed.source.url == "https://www.vefsn.kommune.no/salgs-og-skjenkebevillinger.413089.no.html"
        assert placed.source.status == "verified_secondary"
