"""YAML the loader must refuse with a line, never with a traceback."""

from __future__ import annotations

from pathlib import Path

from bevilling.rules.check import check_path

HEADER = (
    'schema: bevilling/rules/v1\nlevel: kommune\nslug: t\nname: T\nkommunenummer: "9998"\n'
    'valid_from: 2026-01-01\nsources: {s: {title: t, url: "https://x"}}\nrules:\n'
)


NATIONAL = Path(__file__).resolve().parents[2] / "rules" / "national.yaml"


def _problems(tmp_path: Path, body: str) -> list[str]:
    (tmp_path / "national.yaml").write_text(NATIONAL.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "t.yaml").write_text(HEADER + body, encoding="utf-8")
    return [f"{p.line}: {p.reason}" for p in check_path(tmp_path)]


def test_a_merge_key_is_refused_at_its_line(tmp_path: Path) -> None:
    body = '  - &r {id: a, kind: skjonn, text: x, source: {ref: s}, hjemmel: "x"}\n  - {<<: *r, id: b}\n'
    assert _problems(tmp_path, body) == ["10: merge keys (<<) are not supported: write the values out"]


def test_a_python_tag_is_refused_at_its_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "  - !!python/object:os.system {a: 1}\n")
    assert problems == ["9: YAML tag tag:yaml.org,2002:python/object:os.system is not allowed in rule files"]


def test_a_kommune_file_checked_without_the_national_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEADER.replace("rules:\n", "rules: []\n"), encoding="utf-8")
    problems = check_path(tmp_path / "t.yaml")
    assert [(p.line, "national rule file" in p.reason) for p in problems] == [(1, True)]


def test_an_unquoted_time_is_read_as_a_time_not_base_60(tmp_path: Path) -> None:
    body = (
        "  - {id: a, kind: skjenketid, when: {groups: [1]}, window: {from: 08:00, to: 01:00},"
        ' source: {ref: s}, hjemmel: "x"}\n'
    )
    assert _problems(tmp_path, body) == []
