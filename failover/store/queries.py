"""Named SQL queries: each ``-- name: X`` block of a ``.sql`` file, loaded once by name."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def load(dialect: str) -> dict[str, str]:
    """All named queries of a dialect (``sql/<dialect>/queries.sql``)."""
    text = files("failover.store").joinpath("sql", dialect, "queries.sql").read_text("utf-8")
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def migrations(dialect: str) -> list[tuple[int, str]]:
    """Numbered migration scripts of a dialect, in order: ``NNN_description.sql``."""
    folder = files("failover.store").joinpath("sql", dialect)
    found = []
    for entry in folder.iterdir():
        m = re.match(r"^(\d{3})_\w+\.sql$", entry.name)
        if m:
            found.append((int(m.group(1)), entry.read_text("utf-8")))
    return sorted(found)
