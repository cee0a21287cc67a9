"""Named SQL queries: each ``-- name: X`` block of a ``.sql`` file, loaded once by name."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def load(dialect: str) -> dict[str, str]:
    """All named queries of a dialect: ``sql/<dialect>/queries.sql`` and the
    ``queries_<area>.sql`` files beside it (one per feature, so features do not collide)."""
    folder = files("failover.store").joinpath("sql", dialect)
    found: dict[str, str] = {}
    names = sorted(e.name for e in folder.iterdir() if re.match(r"^queries(_\w+)?\.sql$", e.name))
    for file_name in names:
        parts = _NAME.split(folder.joinpath(file_name).read_text("utf-8"))
        found.update(
            (name, body.strip()) for name, body in zip(parts[1::2], parts[2::2], strict=True)
        )
    return found


def migrations(dialect: str) -> list[tuple[int, str]]:
    """Numbered migration scripts of a dialect, in order: ``NNN_description.sql``."""
    folder = files("failover.store").joinpath("sql", dialect)
    found = []
    for entry in folder.iterdir():
        m = re.match(r"^(\d{3})_\w+\.sql$", entry.name)
        if m:
            found.append((int(m.group(1)), entry.read_text("utf-8")))
    return sorted(found)
