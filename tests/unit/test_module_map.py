"""The README's module map names every module under failover/ and channels/, and nothing that
is gone: a new module without a line there fails here."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mapped() -> set[str]:
    """Paths named by the map's code block; two spaces of indent per directory level."""
    text = (ROOT / "README.md").read_text()
    block = text.split("### Module map", 1)[1].split("```", 2)[1]
    stack: list[str] = []
    paths: set[str] = set()
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        stack = stack[:depth]
        if name.endswith("/"):
            stack.append(name.rstrip("/"))
        else:
            paths.add("/".join([*stack, name]))
    return paths


def test_the_module_map_covers_every_module() -> None:
    modules = {
        str(p.relative_to(ROOT))
        for top in ("failover", "channels")
        for p in (ROOT / top).rglob("*.py")
        if p.name != "__init__.py"
    }
    assert sorted(modules - mapped()) == []  # missing from the map
    assert sorted(mapped() - modules) == []  # in the map, but gone
