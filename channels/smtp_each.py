"""Email sent one copy per recipient, for recipients that each need their own headers (a
subscriber's one-click unsubscribe link, RFC 8058).

The message is built once; each copy is its few header lines prepended to the same bytes, so
a copy costs one SMTP transaction and no rebuilding. Progress is kept by address: an attempt
that is cut off resumes with the addresses not yet handled, and nobody is mailed twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib

from channels.base import PermanentError, Post, Receipt, TransientError
from channels.recipients import Recipient, RecipientSource

Connect = Callable[[], aiosmtplib.SMTP]
PROGRESS_EVERY = 50  # copies between two progress reports


@dataclass
class _Each:
    sent: set[str]
    refused: dict[str, str]
    total: int
    transient: str | None = None
    permanent: str | None = None
    status: int | None = None
    maybe: bool = False
    credentials: bool = False
    since_report: int = 0
    deferred: list[str] = field(default_factory=list)

    def progress(self) -> dict[str, Any]:
        return {"sent": sorted(self.sent), "refused": self.refused}


async def send_each(
    post: Post,
    recipients: Sequence[Recipient],
    base: bytes,
    sender: str,
    connect: Connect,
    connections: int,
    source: RecipientSource,
) -> tuple[int, dict[str, str]]:
    """Send ``base`` to each recipient with its own headers; return (accepted, refused).
    Raises TransientError/PermanentError with ``progress`` when not everyone was handled."""
    state = _Each(set(post.progress.get("sent", [])), dict(post.progress.get("refused", {})), 0)
    todo = [r for r in recipients if r.address not in state.sent and r.address not in state.refused]
    state.total = len(todo) + len(state.sent) + len(state.refused)
    queue = iter(todo)
    workers = [
        _worker(queue, base, sender, connect, state, post, source) for _ in range(connections)
    ]
    await asyncio.gather(*workers)
    if state.permanent is not None:
        raise PermanentError(
            state.permanent, status=state.status, credentials=state.credentials,
            progress=state.progress(),
        )  # fmt: skip
    if state.transient is not None:
        raise TransientError(
            state.transient, status=state.status, maybe_delivered=state.maybe,
            progress=state.progress(),
        )  # fmt: skip
    return len(state.sent), state.refused


async def _worker(
    queue: Iterator[Recipient],
    base: bytes,
    sender: str,
    connect: Connect,
    state: _Each,
    post: Post,
    source: RecipientSource,
) -> None:
    client: aiosmtplib.SMTP | None = None
    try:
        for rcpt in queue:  # shared by the workers; next() never awaits, so no lock is needed
            if state.permanent is not None or (state.transient and state.maybe):
                return
            try:
                if client is None or not client.is_connected:
                    client = connect()
                    await client.connect()
                await client.sendmail(sender, [rcpt.address], rcpt.header_bytes() + base)
                state.sent.add(rcpt.address)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                code, text = exc.recipients[0].code, exc.recipients[0].message
                await _refused(state, source, rcpt.address, code, text)
            except aiosmtplib.SMTPAuthenticationError as exc:
                state.permanent = f"SMTP login refused: {exc.code} {exc.message}"
                state.status, state.credentials = exc.code, True
                return
            except aiosmtplib.SMTPResponseException as exc:
                await _drop(client)
                client = None
                if exc.code >= 500:
                    state.permanent, state.status = f"SMTP {exc.code} {exc.message}", exc.code
                    return
                state.transient, state.status = f"SMTP {exc.code} {exc.message}", exc.code
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                # This copy may or may not have been accepted: it goes again next time.
                state.transient = f"SMTP connection lost: {type(exc).__name__}: {exc}"
                state.maybe = True
                return
            state.since_report += 1
            if post.on_progress is not None and state.since_report >= PROGRESS_EVERY:
                state.since_report = 0
                done = len(state.sent) + len(state.refused)
                await post.on_progress({"done": done, "total": state.total, "refused": len(state.refused)})  # fmt: skip
    finally:
        await _drop(client)


async def _refused(
    state: _Each, source: RecipientSource, address: str, code: int, text: str
) -> None:
    if 400 <= code < 500:
        state.transient, state.status = f"{address}: {code} {text}", code
        return
    state.refused[address] = f"{code} {text}"
    await source.refused(address, f"{code} {text}")


async def send_single(connect: Connect, sender: str, address: str, raw: bytes) -> None:
    """One message to one address on its own connection (a confirmation mail)."""
    client = connect()
    try:
        await client.connect()
        await client.sendmail(sender, [address], raw)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        code, text = exc.recipients[0].code, exc.recipients[0].message
        if code >= 500:
            raise PermanentError(f"{address}: {code} {text}", status=code) from None
        raise TransientError(f"{address}: {code} {text}", status=code) from None
    except aiosmtplib.SMTPResponseException as exc:
        error = PermanentError if exc.code >= 500 else TransientError
        raise error(f"SMTP {exc.code} {exc.message}", status=exc.code) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TransientError(f"SMTP: {type(exc).__name__}: {exc}") from None
    finally:
        await _drop(client)


async def _drop(client: aiosmtplib.SMTP | None) -> None:
    if client is not None and client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


def receipt(post_mid: str, accepted: int, refused: dict[str, str]) -> Receipt:
    total = accepted + len(refused)
    note = f"{accepted} of {total} subscribers accepted"
    if refused:
        note += f"; {len(refused)} refused for good (suppressed)"
    return Receipt(
        remote_id=post_mid,
        extra={"message_id": post_mid, "accepted": accepted, "refused": refused},
        note=note,
    )
