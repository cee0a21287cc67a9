"""Send: the composed parts posted through the channel's adapter, in order.

Each call to a platform is bounded in time and made only while our claim is confirmed (the
fence); a thread's parts already posted are skipped on a retry, and progress is saved after
each part, so a retry continues where the last attempt stopped. The rate budget a platform
reports goes to the pacer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from channels.base import Channel, Post, Receipt, TransientError
from failover.clock import Clock
from failover.dispatch.compose import Composed, as_receipt, post_key, receipt_dict
from failover.dispatch.record import shielded
from failover.model import Delivery, Message
from failover.pacing import Pacer
from failover.runtime import RuntimeGetter
from failover.store.base import Store
from failover.tracing import Tracing, record

# Whether a claimed delivery is still ours long enough to start a send bounded by the given
# timeout (failover/claims.py). False: do not send, another daemon has or may take it.
Fence = Callable[[Delivery, float], Awaitable[bool]]


class Fenced(Exception):
    """The claim was not confirmed before a send: nothing was sent."""


@dataclass
class Sender:
    store: Store
    clock: Clock
    owner: str
    runtime: RuntimeGetter
    pacer: Pacer
    tracing: Tracing

    async def send(
        self,
        delivery: Delivery,
        message: Message,
        composed: Composed,
        progress: dict[str, Any],
        receipt: dict[str, Any],
        fence: Fence,
    ) -> list[dict[str, Any]]:
        """Post the parts not yet posted; ``progress`` is kept up to date as parts go out.
        Raises ``Fenced`` (nothing more sent) when the claim is not confirmed."""
        parts = composed.parts
        done: list[dict[str, Any]] = list(progress.get("parts", []))
        timeout = max(5.0, self.runtime().config.claim_lease / 2)
        for index in range(len(done), len(parts)):
            post = Post(
                message_id=message.id,
                key=post_key(message, delivery.channel, index, len(parts)),
                text=parts[index],
                created_at=message.created_at,
                title=message.title,
                link=message.link,
                media=composed.media if index == 0 else (),
                content_warning=message.content_warning,
                language=message.language,
                reply_to=as_receipt(done[-1]) if done else composed.parent,
                thread_root=(composed.root or (as_receipt(done[0]) if done else None)),
                part=index + 1,
                parts=len(parts),
                uncertain=delivery.uncertain and index == len(done),
                progress=progress.get("adapter", {}),
                full_text_url=composed.full_text_url,
                on_progress=self._progress_saver(delivery, progress, receipt),
                claim=f"{self.owner} {delivery.id}/{delivery.claim_epoch}",
            )
            if not await fence(delivery, timeout):
                raise Fenced
            got = await self._send_one(composed.adapter, post, delivery.channel, limit_s=timeout)
            done.append(receipt_dict(got))
            progress.clear()
            progress["parts"] = list(done)
            if index + 1 < len(parts):
                await self._save(delivery, dict(progress), receipt)
        return done

    async def _send_one(
        self, adapter: Channel, post: Post, channel: str, limit_s: float
    ) -> Receipt:
        """One call to the platform, bounded by ``limit_s`` seconds; the rate budget it
        reports goes to the pacer."""
        with self.tracing.span(
            "channel.send", {"failover.channel": channel, "failover.part": post.part}
        ) as send_span:
            try:
                async with asyncio.timeout(limit_s):
                    got = await adapter.send(post)
            except TimeoutError:
                raise TransientError(
                    f"no answer within {limit_s:g}s", maybe_delivered=True
                ) from None
            record(send_span, **{"failover.remote_id": got.remote_id, "failover.url": got.url})
        if got.budget is not None:
            self.pacer.update(
                channel, got.budget.remaining, got.budget.reset_after, self.clock.now()
            )
        else:
            self.pacer.unmetered(channel)
        return got

    def _progress_saver(
        self, delivery: Delivery, progress: dict[str, Any], receipt: dict[str, Any]
    ) -> Callable[[Mapping[str, Any]], Awaitable[None]]:
        """What a long send (a big mailing) calls to record how far it got, for the CLI/UI."""

        async def save(live: Mapping[str, Any]) -> None:
            await self._save(delivery, {**progress, "live": dict(live)}, receipt)

        return save

    async def _save(
        self, delivery: Delivery, progress: dict[str, Any], receipt: dict[str, Any]
    ) -> None:
        await shielded(
            self.store.save_progress(
                delivery.id,
                self.owner,
                progress,
                receipt,
                self.clock.now(),
                epoch=delivery.claim_epoch,
            )
        )
