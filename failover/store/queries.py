"""Named SQL queries: each ``-- name: X`` block of a ``.sql`` file, loaded once by name.

A query is written once, in ``sql/common/``, with ``:name`` parameters; the PostgreSQL loader
turns those into psycopg's ``%(name)s``. A dialect's own ``sql/<dialect>/queries*.sql`` hold
only what truly differs (locking, JSON functions, the database's clock), in that dialect's own
parameter style, and override a common query of the same name.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_QUERY_FILE = re.compile(r"^queries(_\w+)?\.sql$")
COMMON = "common"
DIALECTS = ("sqlite", "postgres")

# What the translation must step over: string literals, quoted names and comments keep their
# colons; ``::`` is a PostgreSQL cast, not a parameter. psycopg reads ``%`` everywhere in the
# text, inside literals and comments too, so every ``%`` is doubled.
_TOKEN = re.compile(
    r"(?P<keep>'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|::)"
    r"|:(?P<param>[A-Za-z_]\w*)"
    r"|(?P<percent>%)"
)


def to_psycopg(text: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s``, and a literal ``%`` as ``%%``."""

    def swap(m: re.Match[str]) -> str:
        if m.group("param"):
            return f"%({m.group('param')})s"
        if m.group("percent"):
            return "%%"
        return m.group(0).replace("%", "%%")

    return _TOKEN.sub(swap, text)


def _blocks(folder: Traversable) -> dict[str, str]:
    """Every named query of the ``queries*.sql`` files in a folder; a name twice is an error,
    because one of the two would silently lose."""
    found: dict[str, str] = {}
    if not folder.is_dir():
        return found
    for file_name in sorted(e.name for e in folder.iterdir() if _QUERY_FILE.match(e.name)):
        parts = _NAME.split(folder.joinpath(file_name).read_text("utf-8"))
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in found:
                raise ValueError(f"query {name!r} is defined twice in {folder}")
            found[name] = body.strip()
    return found


def common() -> dict[str, str]:
    """The dialect-neutral queries as written (``:name`` parameters)."""
    return _blocks(files("failover.store").joinpath("sql", COMMON))


def own(dialect: str) -> dict[str, str]:
    """The queries only a dialect's own files define or override, in its parameter style."""
    return _blocks(files("failover.store").joinpath("sql", dialect))


@cache
def load(dialect: str) -> dict[str, str]:
    """All named queries of a dialect: the common ones in its parameter style, then its own."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    shared = common()
    if dialect == "postgres":
        shared = {name: to_psycopg(text) for name, text in shared.items()}
    return {**shared, **own(dialect)}


def migrations(dialect: str) -> list[tuple[int, str]]:
    """Numbered migration scripts of a dialect, in order: ``NNN_description.sql``."""
    folder = files("failover.store").joinpath("sql", dialect)
    found = []
    for entry in folder.iterdir():
        m = re.match(r"^(\d{3})_\w+\.sql$", entry.name)
        if m:
            found.append((int(m.group(1)), entry.read_text("utf-8")))
    return sorted(found)
