"""What an operator does with subscribers, for the API, the CLI (through the API) and the web
UI alike: import a CSV, add a webhook subscriber."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from failover.errors import Conflict, InvalidInput
from failover.store.subscribers import NewSubscriber, Subscriber
from failover.subscribers import csv_io, links
from failover.subscribers.signup import Subscriptions, valid_address, valid_components


async def import_csv(subs: Subscriptions, text: str) -> dict[str, int]:
    """Rows the CSV says were confirmed are stored confirmed; other pending rows get a
    confirmation mail; unsubscribed and suppressed rows are kept so they are not mailed.
    Addresses already known are left as they are."""
    rows = csv_io.read(text)  # every line checked before anything is stored
    counts = {"imported": 0, "confirmed": 0, "invited": 0, "skipped": 0}
    now = subs.clock.now()
    for row in rows:
        new = NewSubscriber(
            kind="email", address=row.address, state=row.state,
            unsubscribe_key=links.new_unsubscribe_key(), components=row.components,
            created_at=row.created_at,
            confirmed_at=(row.confirmed_at or now) if row.state == "confirmed" else None,
        )  # fmt: skip
        stored = await subs.store.sub_insert(new, now)
        if stored is None:
            counts["skipped"] += 1
            continue
        counts["imported"] += 1
        if stored.state == "confirmed":
            counts["confirmed"] += 1
        elif stored.state == "pending":
            await subs.invite(stored)
            counts["invited"] += 1
    return counts


async def add_webhook(
    subs: Subscriptions,
    url: object,
    contact_email: object,
    components: Sequence[object],
    secret: object = None,
) -> tuple[Subscriber, str]:
    """A confirmed webhook subscriber; returns it with its signing secret (shown once)."""
    if not isinstance(url, str) or len(url) > 2000:
        raise InvalidInput("url", "is required: the hook's http(s) URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url", "must be an http:// or https:// URL with a host")
    contact = valid_address(contact_email) if contact_email is not None else None
    if secret is None:
        secret = "whsec_" + secrets.token_urlsafe(32)
    if not isinstance(secret, str) or not 16 <= len(secret) <= 200:
        raise InvalidInput("secret", "must be 16 to 200 characters")
    new = NewSubscriber(
        kind="webhook", address=url, state="confirmed", unsubscribe_key=links.new_unsubscribe_key(),
        components=tuple(valid_components(components)), contact_email=contact, secret=secret,
        confirmed_at=subs.clock.now(),
    )  # fmt: skip
    stored = await subs.store.sub_insert(new, subs.clock.now())
    if stored is None:
        raise Conflict(f"a webhook subscriber for {url} exists already")
    return stored, secret
