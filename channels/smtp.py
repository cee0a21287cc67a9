"""Email through SMTP with aiosmtplib: STARTTLS (587), implicit TLS (465) or plain, AUTH.

Recipients come from the config, a file (one address a line), or both, and are read lazily in
batches: a 10,000-address list streams through a bounded number of connections, each reused for
many SMTP transactions, with the message built once. Outcomes are per recipient: refused
addresses (5xx) are reported, not retried, and do not fail the others; deferred ones (4xx) and
batches cut off by a dropped connection are retried, and only they (``progress`` carries what
was done), so nobody gets the same announcement twice.

With ``recipients_from`` the core attaches a ``RecipientSource`` (a status page's subscribers)
and each recipient gets a copy of their own, carrying their own headers (channels/smtp_each.py).
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import aiosmtplib
from pydantic import SecretStr, model_validator

from channels.base import (
    IMAGE_TYPES,
    ChannelContext,
    ChannelOptions,
    CheckResult,
    Limits,
    PermanentError,
    Post,
    Receipt,
    TransientError,
)
from channels.email_message import build, message_id
from channels.recipients import RecipientSource
from channels.smtp_each import receipt as each_receipt
from channels.smtp_each import send_each, send_single


class EmailOptions(ChannelOptions):
    host: str
    port: int | None = None  # default: 587 (starttls), 465 (tls), 25 (none)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str
    reply_to: str | None = None
    recipients: list[str] = []
    recipients_file: Path | None = None
    # "subscribers": the core hands the recipients over at send time, one copy each.
    recipients_from: Literal["subscribers"] | None = None
    batch_size: int = 50  # recipients per SMTP transaction
    max_connections: int = 4
    timeout: float = 30.0
    ca_file: Path | None = None  # for a private relay's CA
    verify_tls: bool = True

    @model_validator(mode="after")
    def _has_recipients(self) -> EmailOptions:
        listed = bool(self.recipients) or self.recipients_file is not None
        if self.recipients_from is not None and listed:
            raise ValueError("recipients_from replaces recipients and recipients_file")
        if not listed and self.recipients_from is None:
            raise ValueError("give recipients, recipients_file, or both (or recipients_from)")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class EmailChannel:
    type_name: ClassVar[str] = "email"
    Options: ClassVar[type[ChannelOptions]] = EmailOptions

    def __init__(self, context: ChannelContext, options: EmailOptions) -> None:
        self.options = options
        self.context = context
        default_port = {"starttls": 587, "tls": 465, "none": 25}[options.security]
        self.port = options.port or default_port
        self.source: RecipientSource | None = None  # attached by the core for recipients_from

    @property
    def limits(self) -> Limits:
        return Limits(
            text=None, max_media=10, max_media_bytes=5 * 1024 * 1024,
            media_types=IMAGE_TYPES, threads=True, title=True,
        )  # fmt: skip

    async def open(self) -> None:
        if self.options.recipients_file is not None and not self.options.recipients_file.is_file():
            raise PermanentError(f"recipients_file {self.options.recipients_file} does not exist")

    async def close(self) -> None:
        return None

    # -- recipients ----------------------------------------------------------------------------

    def _recipients(self) -> Iterator[str]:
        yield from (r.strip() for r in self.options.recipients if r.strip())
        if self.options.recipients_file is not None:
            with self.options.recipients_file.open(encoding="utf-8") as fh:
                for line in fh:
                    address = line.split("#", 1)[0].strip()
                    if address:
                        yield address

    def _batches(self) -> Iterator[tuple[int, list[str]]]:
        it = self._recipients()
        for index in itertools.count():
            batch = list(itertools.islice(it, self.options.batch_size))
            if not batch:
                return
            yield index, batch

    # -- sending -------------------------------------------------------------------------------

    def _client(self) -> aiosmtplib.SMTP:
        o = self.options
        context = None
        if o.security != "none":
            context = ssl.create_default_context(cafile=str(o.ca_file) if o.ca_file else None)
            if not o.verify_tls:
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return aiosmtplib.SMTP(
            hostname=o.host, port=self.port, timeout=o.timeout,
            use_tls=o.security == "tls", start_tls=o.security == "starttls",
            tls_context=context, username=o.username,
            password=o.password.get_secret_value() if o.password else None,
        )  # fmt: skip

    async def send(self, post: Post) -> Receipt:
        if len(post.media) > 10 or any(m.content_type not in IMAGE_TYPES for m in post.media):
            raise PermanentError("email takes up to 10 PNG, JPEG, GIF or WebP images")
        raw = build(post, self.options.from_address, self.options.reply_to).as_bytes()
        if self.options.recipients_from is not None:
            return await self._send_each(post, raw)
        done: set[int] = set(post.progress.get("done", []))
        retry: dict[str, list[str]] = dict(post.progress.get("retry", {}))
        refused: dict[str, str] = dict(post.progress.get("refused", {}))
        total = sum(1 for _ in self._recipients())
        state = _Run(done=done, retry=retry, refused=refused, total=total)
        state.handled = int(post.progress.get("handled", 0))
        batches = self._batches()
        lock = asyncio.Lock()

        async def next_batch() -> tuple[int, list[str]] | None:
            async with lock:
                for index, batch in batches:
                    if index in state.done:
                        continue
                    return index, retry.get(str(index), batch)
                return None

        workers = [
            self._worker(next_batch, raw, state, post)
            for _ in range(max(1, self.options.max_connections))
        ]
        await asyncio.gather(*workers)
        progress = {
            "done": sorted(state.done), "retry": state.retry, "refused": state.refused,
            "handled": state.handled,
        }  # fmt: skip
        if state.permanent is not None:
            raise PermanentError(
                state.permanent, status=state.status, credentials=state.credentials,
                progress=progress,
            )  # fmt: skip
        if state.transient is not None:
            raise TransientError(
                state.transient, status=state.status, maybe_delivered=state.maybe,
                progress=progress,
            )  # fmt: skip
        if total and len(state.refused) >= total:
            raise PermanentError(f"every recipient was refused: {_first(state.refused)}")
        mid = message_id(post, self.options.from_address)
        accepted = total - len(state.refused)
        note = f"{accepted} of {total} recipients accepted"
        if state.refused:
            note += f"; refused: {_first(state.refused)}"
        return Receipt(
            remote_id=mid, extra={"message_id": mid, "accepted": accepted, "refused": state.refused},
            note=note,
        )  # fmt: skip

    async def _send_each(self, post: Post, raw: bytes) -> Receipt:
        if self.source is None:
            raise TransientError(f"no {self.options.recipients_from} list is attached yet")
        recipients = await self.source.recipients(post)
        accepted, refused = await send_each(
            post, recipients, raw, self.options.from_address, self._client,
            max(1, self.options.max_connections), self.source,
        )  # fmt: skip
        return each_receipt(message_id(post, self.options.from_address), accepted, refused)

    async def send_message(self, address: str, raw: bytes) -> None:
        """One ready-made message to one address (a subscription's confirmation mail)."""
        await send_single(self._client, self.options.from_address, address, raw)

    async def _worker(self, next_batch: Any, raw: bytes, state: _Run, post: Post) -> None:
        client: aiosmtplib.SMTP | None = None
        try:
            while state.permanent is None and (item := await next_batch()) is not None:
                index, recipients = item
                try:
                    if client is None or not client.is_connected:
                        client = self._client()
                        await client.connect()
                    answers, _ = await client.sendmail(self.options.from_address, recipients, raw)
                    errors = {a: (r.code, r.message) for a, r in answers.items()}
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    errors = {e.recipient: (e.code, e.message) for e in exc.recipients}
                except aiosmtplib.SMTPAuthenticationError as exc:
                    state.fail_permanent(f"SMTP login refused: {exc.code} {exc.message}", exc.code)
                    state.credentials = True
                    return
                except aiosmtplib.SMTPResponseException as exc:
                    state.fail(exc.code, f"SMTP {exc.code} {exc.message}", maybe=False)
                    await _drop(client)
                    client = None
                    continue
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    # The batch may or may not have been accepted: it goes again, as a whole.
                    state.transient = f"SMTP connection lost: {type(exc).__name__}: {exc}"
                    state.maybe = True
                    return
                state.record(index, recipients, errors)
                if post.on_progress is not None:
                    await post.on_progress(state.snapshot())
        finally:
            await _drop(client)

    # -- health --------------------------------------------------------------------------------

    async def check(self) -> CheckResult:
        client = self._client()
        try:
            await client.connect()  # EHLO, STARTTLS and AUTH as configured
        except aiosmtplib.SMTPAuthenticationError as exc:
            return CheckResult(ok=False, detail=f"login refused: {exc.code}", credentials=True)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return CheckResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        finally:
            await _drop(client)
        return CheckResult(ok=True, detail=f"{self.options.host}:{self.port} accepts us")


class _Run:
    """What one send achieved so far, shared by its connection workers."""

    def __init__(
        self, done: set[int], retry: dict[str, list[str]], refused: dict[str, str], total: int
    ) -> None:
        self.done, self.retry, self.refused, self.total = done, retry, refused, total
        self.transient: str | None = None
        self.permanent: str | None = None
        self.status: int | None = None
        self.maybe = False
        self.credentials = False
        self.handled = 0

    def record(self, index: int, recipients: list[str], errors: dict[str, tuple[int, str]]) -> None:
        deferred = []
        for address, (code, text) in errors.items():
            if 400 <= code < 500:
                deferred.append(address)
                self.transient = f"{address}: {code} {text}"
                self.status = code
            else:
                self.refused[address] = f"{code} {text}"
        self.handled += len(recipients) - len(deferred)
        if deferred:
            self.retry[str(index)] = deferred
        else:
            self.retry.pop(str(index), None)
            self.done.add(index)

    def fail(self, code: int, reason: str, maybe: bool) -> None:
        self.status = code
        if code >= 500:
            self.fail_permanent(reason, code)
        else:
            self.transient, self.maybe = reason, self.maybe or maybe

    def fail_permanent(self, reason: str, code: int | None) -> None:
        self.permanent, self.status = reason, code

    def snapshot(self) -> dict[str, Any]:
        return {"done": self.handled, "total": self.total, "refused": len(self.refused)}


async def _drop(client: aiosmtplib.SMTP | None) -> None:
    if client is not None and client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


def _first(refused: dict[str, str]) -> str:
    items = list(refused.items())[:3]
    more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
    return ", ".join(f"{a} ({r})" for a, r in items) + more
