"""Reading rule files: YAML -> validated models, every problem reported as file:line: reason.

PyYAML silently keeps the last of two equal keys, so we compose the node tree ourselves,
reject duplicates, and remember the line of every node so that schema errors (and later
semantic checks) can point at the line a case officer has to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import ValidationError

from bevilling.calendar import LAST_YEAR
from bevilling.rules.model import RuleFile

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class RuleFileError(Exception):
    """One or more problems in rule files; ``str()`` gives one ``file:line: reason`` per line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(slots=True)
class LoadedFile:
    path: str
    model: RuleFile
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, *key: str | int) -> int:
        """Line of the deepest node along ``key`` that exists (1-based)."""
        for end in range(len(key), -1, -1):
            line = self.lines.get(tuple(key[:end]))
            if line is not None:
                return line
        return 1

    def rule_line(self, index: int) -> int:
        return self.line_of("rules", index)


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _to_python(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        raise RuleFileError(
            [Problem(file, node.start_mark.line + 1, f"YAML tag {node.tag} is not allowed in rule files")]
        )
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise RuleFileError(
                    [
                        Problem(
                            file,
                            key_node.start_mark.line + 1,
                            "merge keys (<<) are not supported: write the values out",
                        )
                    ]
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise RuleFileError(
                    [Problem(file, key_node.start_mark.line + 1, "a key must be a plain value")]
                )
            key = _scalar(key_node, file)
            if isinstance(key, bool):
                # YAML 1.1 reads the keys on/off/yes/no as booleans; as a key they are words.
                key = key_node.value
            if key in result:
                raise RuleFileError(
                    [
                        Problem(
                            file,
                            key_node.start_mark.line + 1,
                            f"duplicate key '{key}' (first at line {lines[(*path, key)]})",
                        )
                    ]
                )
            result[key] = _to_python(value_node, (*path, key), lines, file)
            # The key's own line, not its value's: that is where a reader looks for it.
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, file) for i, item in enumerate(node.value)]
    return _scalar(node, file)


_UNQUOTED_CLOCK = re.compile(r"^\d{1,2}:\d{2}$")


def _scalar(node: yaml.Node, file: str = "") -> Any:
    # YAML 1.1 reads an unquoted 08:00 as the base-60 integer 480; a case officer means a time.
    if isinstance(node, yaml.ScalarNode) and node.style is None and _UNQUOTED_CLOCK.match(node.value):
        return node.value
    constructor = yaml.SafeLoader("")
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as error:
        raise RuleFileError([Problem(file, node.start_mark.line + 1, f"YAML: {error}")]) from None
    finally:
        constructor.dispose()


MAX_DEPTH = 50


class _Loader(yaml.SafeLoader):
    """Composes the node tree, refusing aliases and deep nesting: an alias may point at
    its own ancestor (``&a [*a]``, endless) or be repeated into billions of nodes, and a
    rule file needs neither."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        mark = cast("yaml.Mark | None", event.start_mark)  # the pure-Python parser's Mark
        key: object = index  # for a mapping's value, the key's node
        merge = isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:merge"
        if isinstance(event, yaml.AliasEvent) and not merge:  # << is refused, with its own reason
            reason = "aliases (*name) are not supported in rule files: write the values out"
            raise yaml.composer.ComposerError(None, None, reason, mark)
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_yaml(text: str, file: str) -> tuple[Any, dict[PathKey, int]]:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        # An error at the end of the stream sits after the last line: name the last line.
        line = min(mark.line + 1, max(1, len(text.splitlines()))) if mark else 1
        raise RuleFileError([Problem(file, line, f"YAML: {error.problem or error}")]) from None
    except yaml.YAMLError as error:
        raise RuleFileError([Problem(file, 1, f"YAML: {error}")]) from None
    if node is None:
        raise RuleFileError([Problem(file, 1, "the file is empty")])
    lines: dict[PathKey, int] = {}
    return _to_python(node, (), lines, file), lines


def _has(container: Any, key: str | int) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container)


def _data_path(data: Any, loc: Sequence[str | int]) -> PathKey:
    """Drop pydantic's union tags from an error location, keeping only real keys."""
    path: list[str | int] = []
    current = data
    for part in loc:
        key = "from" if part == "from_" else part
        if _has(current, key):
            current = current[key]
            path.append(key)
    return tuple(path)


def _dotted(path: PathKey) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path) or "(top)"


def load_file(path: Path | str) -> LoadedFile:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RuleFileError([Problem(file, 1, f"cannot read: {error}")]) from None
    data, lines = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise RuleFileError(
            [Problem(file, 1, "a rule file is a mapping with schema, level, slug, ... rules")]
        )
    try:
        model = RuleFile.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            path_key = _data_path(data, item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            extra = [
                str(p) for p in item["loc"][len(path_key) :] if not str(p).startswith(("function-", "json-"))
            ]
            where = _dotted(path_key) + ("." + ".".join(extra) if extra and item["type"] == "missing" else "")
            line = lines.get(path_key, 1)
            problems.append(Problem(file, line, f"{where}: {message}"))
        raise RuleFileError(_unique(problems)) from None
    if model.valid_from.year > LAST_YEAR:
        # Nothing can be checked or evaluated after the calendar's last year.
        raise RuleFileError(
            [
                Problem(
                    file,
                    lines.get(("valid_from",), 1),
                    f"valid_from: {model.valid_from} is after {LAST_YEAR}, the last year the calendar knows",
                )
            ]
        )
    return LoadedFile(file, model, lines)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def rule_files(root: Path | str) -> Iterator[Path]:
    base = Path(root)
    if base.is_file():
        yield base
        return
    yield from sorted(p for p in base.rglob("*.yaml") if p.is_file())
