"""What every command shares: exit codes, the zone times are shown in, and tables for people."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from failover import timefmt

EXIT_OK, EXIT_FAIL, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_DENIED, EXIT_CONFLICT = 0, 1, 2, 3, 4, 5
EXIT_UNREACHABLE, EXIT_CONFIG = 69, 78


class Shown:
    """The zone times are shown in (--tz, $FAILOVER_TZ, else this computer's)."""

    zone: tzinfo = UTC


SHOWN = Shown()


def short(text: str, n: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def when(value: Any, hint: bool = False) -> str:
    """A time in the shown zone with its name; with ``hint``, also "(in 3 h)"."""
    if value is None or value == "":
        return ""
    shown = timefmt.local(value, SHOWN.zone)
    return f"{shown} ({timefmt.relative(value, datetime.now(UTC))})" if hint else shown


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)
