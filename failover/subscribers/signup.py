"""Double opt-in: subscribe (a pending row and a confirmation mail), confirm (once, before
expiry), unsubscribe (one click). Nothing but the confirmation mail goes to an address before
it is confirmed, and the answer to a subscribe request never says whether it was known.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from channels.base import ChannelError
from failover.clock import Clock
from failover.config import Config
from failover.errors import InvalidInput
from failover.live_channels import ChannelSet
from failover.runtime import RuntimeGetter
from failover.store.base import Store
from failover.store.subscribers import Subscriber
from failover.subscribers import links, mail, ratelimit
from failover.tokens import same

log = logging.getLogger("failover.subscribers")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")  # fmt: skip
_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_COMPONENTS = 100


class LinkProblem(Enum):
    """Why a confirmation link cannot be used; each value is what the page says."""

    MALFORMED = "This link is incomplete or damaged. Copy the whole link from the mail."
    USED = "This link was already used or was replaced by a newer one."
    EXPIRED = "This link has expired. Subscribe again to get a new one."


def valid_address(raw: object) -> str:
    """The lower-cased address, or InvalidInput naming what is wrong."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("email", "is required")
    address = raw.strip().lower()
    if len(address) > 254 or not _ADDRESS.match(address):
        raise InvalidInput("email", "is not an email address (like name@example.com)")
    return address


def valid_components(raw: Sequence[object]) -> list[str]:
    if len(raw) > MAX_COMPONENTS:
        raise InvalidInput("components", f"at most {MAX_COMPONENTS}")
    out = []
    for value in raw:
        if not isinstance(value, str) or not _COMPONENT.match(value):
            raise InvalidInput("components", "each must be a component id (letters, digits, -_.)")
        out.append(value)
    return sorted(set(out))


@dataclass
class Subscriptions:
    store: Store
    clock: Clock
    runtime: RuntimeGetter  # the config and channels in force (they change on reload)

    def config(self) -> Config:
        return self.runtime().config

    def channels(self) -> ChannelSet:
        return self.runtime().channels

    def base_url(self) -> str:
        api = self.config().api
        return api.public_url or f"http://{api.listen}"

    async def subscribe(self, address: str, components: Sequence[str], source: str) -> int | None:
        """Ask for a subscription; None when done (or nothing to do, unsaid), else the seconds
        the caller must wait (over a limit)."""
        cfg, now = self.config().subscribers, self.clock.now()
        wait = await ratelimit.admit(self.store, cfg, address, source, now)
        if wait is not None:
            return wait
        row = await self.store.sub_subscribe_email(
            address, components, links.new_unsubscribe_key(), now
        )
        if row.state != "suppressed":  # it hard-bounced: mailing it again would bounce again
            await self.invite(row)
        return None

    async def invite(self, row: Subscriber) -> None:
        """A fresh confirmation link for ``row`` (older ones stop working), by mail."""
        now = self.clock.now()
        expires = now + timedelta(seconds=self.config().subscribers.confirm_within)
        token = links.new_token(row.id, expires)
        await self.store.sub_set_token(row.id, links.token_hash(token), expires, now)
        await self._send_confirmation(row, token, expires)

    async def _send_confirmation(self, row: Subscriber, token: str, expires: datetime) -> None:
        config = self.config()
        sender = mail.mail_channel(config, self.channels())
        if sender is None:
            log.error(
                "no email channel can send confirmation mails: set [subscribers] email_channel"
            )
            return
        site = config.api.public_url or "our"
        raw = mail.confirmation(
            sender.options.from_address, row.address, site,
            links.confirm_url(self.base_url(), token), expires,
            self.clock.now(), links.unsubscribe_headers(self.base_url(), row.unsubscribe_key),
        )  # fmt: skip
        try:
            await sender.send_message(row.address, raw)
        except ChannelError as exc:
            if exc.status is not None and exc.status >= 500:
                await self.store.sub_suppress(row.address, exc.reason, self.clock.now())
            log.warning("confirmation mail to subscriber %d not sent: %s", row.id, exc.reason)

    async def check_link(self, token: str) -> Subscriber | LinkProblem:
        """The subscriber a confirmation link is for, without using it up."""
        parsed = links.parse_token(token)
        if parsed is None:
            return LinkProblem.MALFORMED
        row = await self.store.sub_get(parsed.subscriber_id)
        if row is None or row.token_hash is None or not same(row.token_hash, parsed.hash):
            return LinkProblem.USED
        if parsed.expires_at <= self.clock.now() or (
            row.token_expires_at is not None and row.token_expires_at <= self.clock.now()
        ):
            return LinkProblem.EXPIRED
        return row

    async def confirm(self, token: str) -> Subscriber | LinkProblem:
        found = await self.check_link(token)
        if isinstance(found, LinkProblem):
            return found
        parsed = links.parse_token(token)
        assert parsed is not None
        done = await self.store.sub_confirm(found.id, parsed.hash, self.clock.now())
        return done if done is not None else LinkProblem.USED  # a second click raced us
