"""Load YAML files with line numbers and turn validation errors into 'file:line: field: msg'."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

M = TypeVar("M", bound=BaseModel)

Loc = Sequence[str | int]


@dataclass(frozen=True)
class FileProblem:
    """One mistake in a file: where it is and what was expected."""

    path: str
    line: int
    field: str
    message: str

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


def _refuse(path: Path, line: int, message: str) -> FileInvalid:
    return FileInvalid([FileProblem(str(path), line, "", message)])


def load_yaml(path: Path) -> Any:
    """Read a YAML file keeping line numbers; a file that is too large, not UTF-8, not YAML or
    nested too deeply becomes FileInvalid with one clear line."""
    yaml = YAML(typ="rt")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _refuse(path, 0, f"cannot read the file: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise _refuse(path, 0, f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB: "
                               "this is not a plan or commune file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _refuse(path, line, "the file is not UTF-8 text: save it as UTF-8 (in Notepad: "
                                  "Save as, Encoding UTF-8)") from exc
    if _nesting(text) > MAX_DEPTH:
        raise _refuse(path, 0, f"the file is nested more than {MAX_DEPTH} levels deep: this "
                               "is not a plan or commune file")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        line = (exc.problem_mark.line + 1) if exc.problem_mark else 0
        raise _refuse(path, line, f"not valid YAML: {exc.problem}") from exc
    except RecursionError as exc:
        raise _refuse(path, 0, f"the file is nested more than {MAX_DEPTH} levels deep: "
                               "this is not a plan or commune file") from exc
    if _depth(root) > MAX_DEPTH:
        raise _refuse(path, 0, f"the file is nested more than {MAX_DEPTH} levels deep: this "
                               "is not a plan or commune file")
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


def problem(path: Path, root: Any, loc: Loc, message: str) -> FileProblem:
    """A FileProblem located at ``loc`` in the loaded tree."""
    return FileProblem(str(path), line_of(root, loc), field_name(loc), message)


def validate_file(model: type[M], path: Path, *,
                  doc: str = "docs/plan-format.md") -> tuple[M, Any]:
    """Load and validate ``path`` against ``model``; return the model and the raw tree.

    ``doc`` is the documentation of the format, named when a field is unknown.
    """
    root = load_yaml(path)
    if root is None:
        raise FileInvalid([FileProblem(str(path), 1, "", "the file is empty")])
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


def _message(err: Any, doc: str) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "this field is required"
    if kind == "extra_forbidden":
        return f"unknown field (check the spelling against {doc})"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")
