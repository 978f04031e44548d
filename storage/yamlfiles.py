"""Load YAML files with line numbers and turn validation errors into 'file:line: field: msg'.

Each message is a catalog sentence (``Said``: a key and its named values); the faces word it
in the officer's language (``bot/cli.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

M = TypeVar("M", bound=BaseModel)

Loc = Sequence[str | int]


@dataclass(frozen=True)
class Said:
    """A sentence of the catalogs: its key and named values (a value may itself be a Said)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.key + (f" {dict(self.params)}" if self.params else "")


class SaidError(ValueError):
    """A refusal worded as a catalog sentence (a validator's, or storing a plan's)."""

    def __init__(self, key: str, **params: Any) -> None:
        self.said = Said(key, params)
        super().__init__(str(self.said))


@dataclass(frozen=True)
class FileProblem:
    """One mistake in a file: where it is and what was expected."""

    path: str
    line: int
    field: str
    message: Said

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.path}:{self.line}:{field} {self.message}"


class FileInvalid(Exception):
    """A plan or commune file has mistakes; ``problems`` lists every one."""

    def __init__(self, problems: Iterable[FileProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


MAX_FILE_BYTES = 2_000_000  # a commune or plan file is a few dozen kilobytes
MAX_DEPTH = 12  # the deepest real file nests 5 levels


def _refuse(path: Path, line: int, key: str, **params: Any) -> FileInvalid:
    return FileInvalid([FileProblem(str(path), line, "", Said(key, params))])


def load_yaml(path: Path) -> Any:
    """Read a YAML file keeping line numbers; a file that is too large, not UTF-8, not YAML or
    nested too deeply becomes FileInvalid with one clear line."""
    yaml = YAML(typ="rt")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _refuse(path, 0, "file.cannot_read", reason=exc.strerror or str(exc)) from exc
    if len(data) > MAX_FILE_BYTES:
        raise _refuse(path, 0, "file.too_large", mb=MAX_FILE_BYTES // 1_000_000)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _refuse(path, line, "file.not_utf8") from exc
    if _nesting(text) > MAX_DEPTH:
        raise _refuse(path, 0, "file.too_deep", depth=MAX_DEPTH)
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        line = (exc.problem_mark.line + 1) if exc.problem_mark else 0
        raise _refuse(path, line, "file.not_yaml", problem=str(exc.problem or "")) from exc
    except RecursionError as exc:
        raise _refuse(path, 0, "file.too_deep", depth=MAX_DEPTH) from exc
    if _depth(root) > MAX_DEPTH:
        raise _refuse(path, 0, "file.too_deep", depth=MAX_DEPTH)
    return root


def _nesting(text: str) -> int:
    """How deep the flow brackets ([ and {) of a YAML text go, read without parsing it."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}" and depth:
            depth -= 1
    return deepest


def _depth(root: Any) -> int:
    """How deep the mappings and lists of a loaded document go (without recursion)."""
    deepest, todo = 0, [(root, 1)]
    while todo:
        node, d = todo.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, d)
            if d > MAX_DEPTH:
                break
            todo += [(v, d + 1) for v in (node.values() if isinstance(node, dict) else node)]
    return deepest


def line_of(root: Any, loc: Loc) -> int:
    """The 1-based line of the deepest node of ``loc`` that exists in ``root``."""
    node = root
    line = getattr(getattr(root, "lc", None), "line", 0) or 0
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0]
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0]
            node = node[part]
        else:
            break
    return line + 1


def field_name(loc: Loc) -> str:
    """A dotted field path such as ``goals[0].criteria[2].number``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problem(path: Path, root: Any, loc: Loc, message: Said) -> FileProblem:
    """A FileProblem located at ``loc`` in the loaded tree."""
    return FileProblem(str(path), line_of(root, loc), field_name(loc), message)


def validate_file(model: type[M], path: Path, *,
                  doc: str = "docs/plan-format.md") -> tuple[M, Any]:
    """Load and validate ``path`` against ``model``; return the model and the raw tree.

    ``doc`` is the documentation of the format, named when a field is unknown.
    """
    root = load_yaml(path)
    if root is None:
        raise FileInvalid([FileProblem(str(path), 1, "", Said("file.empty"))])
    try:
        return model.model_validate(root), root
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            # pydantic adds union/tag names to the location: keep only the real keys
            loc = _real_loc(root, loc)
            problems.append(problem(path, root, loc, _message(err, doc)))
        raise FileInvalid(problems) from exc


def _real_loc(root: Any, loc: list[str | int]) -> list[str | int]:
    """Keep the parts of a pydantic location that exist in the file (plus a missing key)."""
    out: list[str | int] = []
    node = root
    for part in loc:
        in_map = isinstance(node, dict) and part in node
        in_seq = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_map or in_seq:
            node = node[part]
            out.append(part)
        elif (isinstance(node, dict | list) and isinstance(part, str)
              and not part[:1].isupper() and "[" not in part):
            out.append(part)  # a field the file lacks ends the path
            break
    return out


# pydantic's error types -> what the field should have been, as a catalog word
_TYPE_WORDS = {"int": "file.type.int", "float": "file.type.number", "decimal": "file.type.number",
               "string": "file.type.text", "str": "file.type.text", "bool": "file.type.bool",
               "list": "file.type.list", "tuple": "file.type.list", "set": "file.type.list",
               "dict": "file.type.mapping", "model": "file.type.mapping",
               "model_attributes": "file.type.mapping", "dataclass": "file.type.mapping",
               "date": "file.type.date", "literal": "file.type.choice",
               "enum": "file.type.choice"}
_BOUNDS = {"greater_than_equal": ("file.at_least", "ge"), "less_than_equal": ("file.at_most", "le"),
           "greater_than": ("file.above", "gt"), "less_than": ("file.below", "lt"),
           "string_too_short": ("file.text_too_short", "min_length"),
           "string_too_long": ("file.text_too_long", "max_length"),
           "too_short": ("file.list_too_short", "min_length"),
           "too_long": ("file.list_too_long", "max_length")}


def _shown(value: Any) -> str:
    """A value from the file as the sentence quotes it (a long one is cut)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _message(err: Any, doc: str) -> Said:
    """A pydantic error as a whole sentence of the catalogs (missing field, wrong type, extra
    field, a value out of bounds or not one of the choices); anything rarer keeps pydantic's
    own words in a sentence of ours."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    value = _shown(err.get("input"))
    if kind == "missing":
        return Said("file.missing")
    if kind == "extra_forbidden":
        return Said("file.unknown_field", {"doc": doc})
    if kind == "value_error" and isinstance(ctx.get("error"), SaidError):
        return ctx["error"].said
    if kind in ("enum", "literal_error"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return Said("file.not_a_choice", {"value": value, "choices": ", ".join(choices)})
    if kind == "string_pattern_mismatch":
        return Said("file.bad_form", {"value": value, "doc": doc})
    if kind in _BOUNDS:
        key, limit = _BOUNDS[kind]
        return Said(key, {"value": value, "limit": ctx.get(limit, "")})
    if kind.endswith(("_type", "_parsing")):
        base = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_datetime")
        word = _TYPE_WORDS.get(base) or _TYPE_WORDS.get(base.split("_")[0])
        if word:
            return Said("file.wrong_type", {"value": value, "expected": Said(word)})
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    return Said("file.invalid", {"value": value, "detail": msg})
