"""Subscribers as CSV, for moving them between systems: export every row (never a secret, a
token or an unsubscribe key), and read an import, checking every line before anything is
stored so a bad file changes nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from failover.errors import InvalidInput
from failover.store.subscribers import STATES, Subscriber
from failover.subscribers.signup import valid_address, valid_components

COLUMNS = ("kind", "address", "state", "components", "contact_email", "created_at", "confirmed_at")
MAX_ERRORS = 20


def export(rows: Iterable[Subscriber]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for s in rows:
        writer.writerow([
            s.kind, s.address, s.state, " ".join(s.components), s.contact_email or "",
            _iso(s.created_at), _iso(s.confirmed_at),
        ])  # fmt: skip
    return out.getvalue()


@dataclass(frozen=True)
class ImportRow:
    address: str
    state: str
    components: tuple[str, ...]
    created_at: datetime | None
    confirmed_at: datetime | None


def read(text: str) -> list[ImportRow]:
    """The email rows of an import; InvalidInput listing every bad line (first 20)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "address" not in reader.fieldnames:
        raise InvalidInput("body", f"a CSV with a header line naming at least: address (columns: {', '.join(COLUMNS)})")  # fmt: skip
    rows, errors = [], []
    for line, raw in enumerate(reader, start=2):
        try:
            rows.append(_row(raw))
        except InvalidInput as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        more = f" and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise InvalidInput("body", "; ".join(errors[:MAX_ERRORS]) + more)
    return rows


def _row(raw: dict[str, str | None]) -> ImportRow:
    kind = (raw.get("kind") or "email").strip()
    if kind != "email":
        raise InvalidInput("kind", "only email subscribers are imported (add webhooks one by one)")
    state = (raw.get("state") or "pending").strip()
    if state not in STATES:
        raise InvalidInput("state", f"must be one of {', '.join(STATES)}")
    components = valid_components((raw.get("components") or "").replace(",", " ").split())
    return ImportRow(
        address=valid_address(raw.get("address")),
        state=state,
        components=tuple(components),
        created_at=_time(raw.get("created_at"), "created_at"),
        confirmed_at=_time(raw.get("confirmed_at"), "confirmed_at"),
    )


def _time(raw: str | None, name: str) -> datetime | None:
    if not raw or not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(name, "must be an ISO 8601 time, e.g. 2026-01-31T09:00:00Z") from None
    if value.tzinfo is None:
        raise InvalidInput(name, "must include a time zone (Z or +01:00)")
    return value


def _iso(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


def subscriber_json(s: Subscriber, retries_pending: int = 0) -> dict[str, object]:
    """What the API shows of a subscriber: never its secret, token or unsubscribe key;
    ``retries_pending``: a webhook's missed copies still to be sent again."""
    return {
        "id": s.id, "kind": s.kind, "address": s.address, "state": s.state,
        "components": list(s.components), "contact_email": s.contact_email,
        "failures": s.failures, "last_error": s.last_error, "created_at": _iso(s.created_at),
        "confirmed_at": _iso(s.confirmed_at) or None, "updated_at": _iso(s.updated_at),
        "retries_pending": retries_pending,
    }  # fmt: skip
