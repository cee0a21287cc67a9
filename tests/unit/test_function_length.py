"""Functions in failover/ and channels/ stay under about 60 lines, so each can be read whole:
a longer one fails here by name, with its length, until it is split into named helpers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 60  # lines from `def` to the function's last line, decorators not counted


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, length in lines) of every function, methods and nested ones too."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            assert child.end_lineno is not None
            yield prefix + child.name, child.end_lineno - child.lineno + 1
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def too_long() -> dict[str, int]:
    """``path::qualname`` -> lines, for every function over the limit."""
    found: dict[str, int] = {}
    for top in ("failover", "channels"):
        for path in sorted((ROOT / top).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            for name, lines in _functions(ast.parse(path.read_text(encoding="utf-8"))):
                if lines > LIMIT:
                    found[f"{where}::{name}"] = lines
    return found


def test_no_function_is_longer_than_60_lines() -> None:
    over = too_long()
    assert over == {}, f"split these into named helpers (lines > {LIMIT}): {over}"


def test_the_scan_sees_methods_nested_functions_and_their_length() -> None:
    source = "class A:\n    async def m(self):\n        def inner():\n            pass\n\n\n        return 1\n"
    assert dict(_functions(ast.parse(source))) == {"A.m": 6, "A.m.inner": 2}
