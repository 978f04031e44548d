"""The layers keep to their places: the flows are pure, storage knows nothing of the bot, and
the bot's modules import each other without a circle (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "flows", "storage")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function, absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module(path).rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            out.add(base)
            # "from bot import service" imports the module bot.service
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def graph() -> dict[str, set[str]]:
    return {_module(p): imports_of(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_graph_sees_imports_inside_functions():
    g = graph()
    # bot.service imports the documents only when /tonghop runs: still an edge
    assert "bot.documents" in g["bot.service"]
    assert {"bot.service", "bot.reminders", "bot.messenger", "bot.officer"} <= set(g)


def test_flows_import_no_messenger_database_or_bot():
    bad = {"telegram", "sqlmodel", "sqlalchemy", "storage", "bot", "aiohttp", "httpx"}
    found = {(m, i) for m, imps in graph().items() if m.startswith("flows")
             for i in imps if _top(i) in bad}
    assert found == set()


def test_storage_imports_nothing_of_the_bot_or_telegram():
    found = {(m, i) for m, imps in graph().items() if m.startswith("storage")
             for i in imps if _top(i) in {"bot", "telegram"}}
    assert found == set()


def test_the_messenger_interface_imports_no_messenger():
    imps = graph()["bot.messenger"]
    assert not {i for i in imps if _top(i) in {"telegram", "sqlmodel", "sqlalchemy", "storage"}
                or i.startswith("bot.")}


def test_only_the_telegram_module_imports_telegram_in_the_shell():
    shell = ("bot.app", "bot.service", "bot.context", "bot.officer", "bot.reminders")
    found = {(m, i) for m in shell for i in graph()[m] if _top(i) == "telegram"}
    assert found == set()


def cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One import circle among the nodes of ``g``, or None."""
    nodes = set(g)
    edges = {m: sorted(i for i in imps if i in nodes and i != m) for m, imps in g.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in edges[m]:
            if state.get(n) == 1:
                return [*path[path.index(n):], n]
            if n not in state and (found := visit(n)) is not None:
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(nodes):
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def test_cycle_finder_finds_a_circle_through_a_late_import():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_bot_modules_import_each_other_without_a_circle():
    g = {m: imps for m, imps in graph().items() if _top(m) == "bot" and m != "bot"}
    assert cycle(g) is None
