"""Accepting a message: validate what a client sent, route it, store it durably.

Shared by the REST API and the CLI (through the API). A message is acknowledged only once
``Store.create_message`` has committed; nothing is stored when validation fails.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from channels.base import IMAGE_TYPES, Limits
from channels.registry import adapter_class
from failover import router, timefmt, wording
from failover.clock import Clock
from failover.config import Config, RouteConfig, TracingConfig
from failover.errors import Conflict, InvalidInput, NotFound
from failover.fitting import TooLong, compose, fit
from failover.live_channels import ChannelSet
from failover.metrics import Metrics
from failover.model import DeliveryState, ImageRef, Message, NewMessage
from failover.store.base import Accepted, NewDelivery, NewEvent, Store
from failover.tracing import Tracing, record

MAX_TEXT = 100_000  # characters, for the text and for each per-channel override
MAX_OVERRIDES = 64  # per-channel texts in one message
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_ID = 2**63 - 1  # the stores' integer range: a larger id names nothing
MAX_KEY = 200  # characters of an Idempotency-Key


# Every text a user sends is bounded: fitting is linear, but linear in what we allow.
Overrides = Annotated[
    dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=MAX_TEXT)]],
    Field(max_length=MAX_OVERRIDES),
]


class ImageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: str = Field(description="base64 of the image bytes")
    content_type: str
    alt: str = Field("", max_length=1500)

    @field_validator("content_type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in IMAGE_TYPES:
            raise ValueError(f"unsupported image type; use one of {', '.join(sorted(IMAGE_TYPES))}")
        return value


class MessageIn(BaseModel):
    """A message as the API and CLI accept it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    title: str | None = Field(None, max_length=300)
    link: str | None = Field(None, max_length=2000, pattern=r"^https?://\S+$")
    images: list[ImageIn] = Field([], max_length=MAX_IMAGES)
    content_warning: str | None = Field(None, max_length=500)
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    overrides: Overrides = {}
    route: str | None = None
    scheduled_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    allow_past: bool = False  # a scheduled_at over a minute ago is refused unless this is set
    thread: int | None = Field(None, ge=1, le=MAX_ID)


_M = TypeVar("_M", bound=BaseModel)


class MessageEdit(BaseModel):
    """What may change while no delivery has started. Route, images and thread may not:
    cancel and send a new message instead."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(None, min_length=1, max_length=MAX_TEXT)  # type: ignore[assignment]
    title: str | None = Field(None, max_length=300)
    link: str | None = Field(None, max_length=2000, pattern=r"^https?://\S+$")
    content_warning: str | None = Field(None, max_length=500)
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    overrides: Overrides = {}
    scheduled_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    allow_past: bool = False  # a scheduled_at over a minute ago is refused unless this is set


class PreviewIn(BaseModel):
    """The parts of a message that decide how it is fitted (images are not needed)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    text: str = Field("", max_length=MAX_TEXT)
    title: str | None = Field(None, max_length=300)
    link: str | None = Field(None, max_length=2000)
    overrides: Overrides = {}
    route: str | None = None


# What a field's pattern means, in words (Pydantic would quote the regular expression).
PATTERNS = {
    "link": "must be a web address starting with https:// or http://, without spaces",
    "language": 'must be a language code like "en" or "pt-BR"',
}


def _validated(model: type[_M], payload: dict[str, Any]) -> _M:
    _check_strings(payload)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "body"
        message = PATTERNS.get(field) if err["type"] == "string_pattern_mismatch" else None
        message = message or wording.plain(err, json=True)
        if err["type"] == "extra_forbidden" and model is MessageEdit:
            message = "cannot be edited; cancel the message and send a new one"
        raise InvalidInput(field, message) from None


def _offline_limits(channel_type: str) -> Limits:
    """An adapter's declared limits without opening it (no secrets, no network)."""
    try:
        cls = adapter_class(channel_type)
        limits: Limits = cls.__new__(cls).limits
    except Exception:
        return Limits()  # they depend on its options: preview the text without a limit
    return limits


PAST_GRACE = timedelta(minutes=1)  # a time typed "now-ish" is not a mistake


def _not_in_the_past(when: datetime | None, now: datetime, allowed: bool) -> None:
    """A mistyped year must not publish at once: a time in the past needs allow_past."""
    if when is not None and not allowed and when < now - PAST_GRACE:
        raise InvalidInput(
            "scheduled_at",
            f"is {timefmt.span(now - when)} in the past ({when.astimezone(UTC):%Y-%m-%d %H:%M} "
            "UTC): check the date, leave it empty to send now, or allow a past time on purpose "
            "(allow_past; --allow-past on the command line)",
        )


@dataclass
class Intake:
    store: Store
    clock: Clock
    config: Config
    channels: ChannelSet
    media_dir: Path
    unusable: router.Usability
    on_accepted: Callable[[], None] = lambda: None
    metrics: Metrics | None = None
    tracing: Tracing | None = None

    async def submit(
        self,
        payload: dict[str, Any],
        actor: str,
        idempotency_key: str | None = None,
        *,
        scope: str | None = None,
        internal: bool = False,
    ) -> Accepted:
        """Validate, route and store; raises InvalidInput.

        ``scope`` (the caller's token) scopes the idempotency key: one client's key never
        replays another's message. Only the daemon itself (``internal``) posts to internal
        routes such as operator alerts.
        """
        request_hash = hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()
        if idempotency_key is not None:
            idempotency_key = scoped_key(scope, idempotency_key)
            earlier = await self.store.message_by_key(idempotency_key)
            if earlier is not None:  # a replay: answered as it was, not validated again
                return self._replay(earlier, request_hash)
        data = _validated(MessageIn, payload)
        now = self.clock.now()
        route_name = data.route or self.config.default_route
        route = self._route(route_name, internal)
        new = await self._new_message(data, route_name, route, actor, now)
        new = dataclasses.replace(new, idempotency_key=idempotency_key, request_hash=request_hash)
        planned = router.plan(route, max(now, data.scheduled_at or now), self.unusable)
        if route.fit == "reject":
            self._check_fits(new, [d.channel for d in planned if d.state is DeliveryState.PENDING])
        event = _accepted_event(actor, route_name, planned, data.scheduled_at)
        tracing = self.tracing or Tracing(TracingConfig())
        with tracing.span(
            "message.accept", {"failover.route": route_name, "failover.actor": actor}
        ) as span:
            new = dataclasses.replace(new, traceparent=tracing.traceparent())
            accepted = await self.store.create_message(new, planned, [event], now)
            message = accepted.message
            record(
                span, **{"failover.message_id": message.id, "failover.created": accepted.created}
            )
        if not accepted.created:
            return self._replay(accepted.message, request_hash)
        if self.metrics is not None:
            self.metrics.accepted.labels(route_name).inc()
        self.on_accepted()
        return accepted

    async def _new_message(
        self, data: MessageIn, route_name: str, route: RouteConfig, actor: str, now: datetime
    ) -> NewMessage:
        """The message as it will be stored, once every field is checked (and images saved)."""
        _not_in_the_past(data.scheduled_at, now, data.allow_past)
        for name in data.overrides:
            if name not in self.config.channels:
                raise InvalidInput(f"overrides.{name}", "no channel with this name")
        expires_at = data.expires_at
        if expires_at is None and route.default_expiry is not None:
            expires_at = (data.scheduled_at or now) + timedelta(seconds=route.default_expiry)
        if expires_at is not None:
            if expires_at <= now:
                raise InvalidInput("expires_at", "is in the past")
            if data.scheduled_at is not None and expires_at <= data.scheduled_at:
                raise InvalidInput("expires_at", "must be after scheduled_at")
        thread_id = await self._thread(data.thread)
        decoded = [_decode_image(i, img) for i, img in enumerate(data.images)]
        self._check_media(data.images, decoded, route)
        images = tuple(
            self._save_image(img, raw) for img, raw in zip(data.images, decoded, strict=True)
        )
        return NewMessage(
            text=data.text,
            route=route_name,
            created_by=actor,
            title=data.title,
            link=data.link,
            images=images,
            content_warning=data.content_warning,
            language=data.language,
            overrides=data.overrides,
            scheduled_at=data.scheduled_at,
            expires_at=expires_at,
            thread=thread_id,
        )

    def _replay(self, earlier: Message, request_hash: str) -> Accepted:
        if earlier.request_hash is not None and earlier.request_hash != request_hash:
            raise Conflict("this Idempotency-Key was used for a different request")
        return Accepted(earlier, False, [])

    async def _thread(self, thread: int | None) -> int | None:
        if thread is None:
            return None
        parent = await self.store.message(thread)
        if parent is None:
            raise InvalidInput("thread", f"no message {thread} to continue")
        return parent.thread_id or parent.id

    def _check_fits(self, new: NewMessage | Message, channels: list[str]) -> None:
        for name in channels:
            live = self.channels.get(name)
            if live is None or live.adapter is None:
                continue
            try:
                fit(compose(new, name, live.adapter.limits), live.adapter.limits, "reject", None)
            except TooLong as exc:
                raise InvalidInput(
                    f"overrides.{name}" if name in new.overrides else "text",
                    f"too long for channel {name}: {exc.detail}",
                ) from None

    def _route(self, name: str, internal: bool) -> RouteConfig:
        route = self.config.routes.get(name)
        if route is None or (name.startswith("_") and not internal):
            known = ", ".join(r for r in self.config.routes if not r.startswith("_"))
            raise InvalidInput("route", f"no route named {name!r}; known: {known}")
        return route

    def _check_media(self, images: list[ImageIn], data: list[bytes], route: RouteConfig) -> None:
        """Every channel the route can reach takes these images (count, size, type), so
        none fails for good at send time. Channels that carry no images drop them."""
        for name in (c for tier in route.tiers for c in tier):
            live = self.channels.get(name)
            limits = live.adapter.limits if live and live.adapter else None
            if limits is None or limits.max_media == 0 or not images:
                continue
            if len(images) > limits.max_media:
                raise InvalidInput("images", f"channel {name} takes at most {limits.max_media}")
            for i, (image, raw) in enumerate(zip(images, data, strict=True)):
                if limits.media_types and image.content_type not in limits.media_types:
                    raise InvalidInput(
                        f"images.{i}.content_type", f"channel {name} does not take this type"
                    )
                if len(raw) > limits.max_media_bytes:
                    raise InvalidInput(
                        f"images.{i}.data",
                        f"is {len(raw)} bytes; channel {name} takes at most "
                        f"{limits.max_media_bytes}",
                    )

    def _save_image(self, image: ImageIn, data: bytes) -> ImageRef:
        digest = hashlib.sha256(data).hexdigest()
        self.media_dir.mkdir(parents=True, exist_ok=True)
        path = self.media_dir / digest
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(path)
        return ImageRef(
            sha256=digest, content_type=image.content_type, alt=image.alt, size=len(data)
        )

    async def edit(self, message_id: int, payload: dict[str, Any], actor: str) -> Message:
        """Change a message before any of its deliveries has started."""
        data = _validated(MessageEdit, payload)
        fields = {name: getattr(data, name) for name in data.model_fields_set - {"allow_past"}}
        if not fields:
            raise InvalidInput("body", "names nothing to change")
        if fields.get("text", "") is None:
            raise InvalidInput("text", "cannot be empty")
        current = await self.store.message(message_id)
        if current is None:
            raise NotFound(f"no message {message_id}")
        for name in data.overrides:
            if name not in self.config.channels:
                raise InvalidInput(f"overrides.{name}", "no channel with this name")
        now = self.clock.now()
        _not_in_the_past(fields.get("scheduled_at"), now, data.allow_past)
        scheduled = fields.get("scheduled_at", current.scheduled_at)
        expires = fields.get("expires_at", current.expires_at)
        if expires is not None and "expires_at" in fields and expires <= now:
            raise InvalidInput("expires_at", "is in the past")
        if expires is not None and scheduled is not None and expires <= scheduled:
            raise InvalidInput("expires_at", "must be after scheduled_at")
        due = max(now, scheduled) if scheduled else now
        route = self.config.routes.get(current.route)
        if route is not None and route.fit == "reject":
            edited = dataclasses.replace(current, **fields)
            self._check_fits(edited, [c for tier in route.tiers for c in tier])
        message = await self.store.edit_message(
            message_id, fields, due if "scheduled_at" in fields else None, actor, now
        )
        self.on_accepted()
        return message

    def preview(self, payload: dict[str, Any]) -> dict[str, Any]:
        """How the text would be fitted on each channel of the route: what the compose form
        shows before anything is stored."""
        data = _validated(PreviewIn, payload)
        route_name = data.route or self.config.default_route
        route = self._route(route_name, internal=False)
        draft = NewMessage(text=data.text, route=route_name, created_by="preview",
                           title=data.title, link=data.link, overrides=data.overrides)  # fmt: skip
        channels = []
        for tier_index, tier in enumerate(route.tiers):
            for name in tier:
                channels.append(self._preview_one(draft, name, tier_index, route.fit))
        return {"route": route_name, "mode": route.mode, "fit": route.fit, "channels": channels}

    def _preview_one(self, draft: NewMessage, name: str, tier: int, policy: str) -> dict[str, Any]:
        live = self.channels.get(name)
        why = self.unusable(name)
        entry: dict[str, Any] = {"channel": name, "tier": tier, "unavailable": why and why.reason}
        # A channel that is not connected still previews, with its platform's usual limits.
        limits = (
            live.adapter.limits if live and live.adapter else _offline_limits(live.config.type)
        ) if live else None  # fmt: skip
        if live is None or limits is None:
            return {**entry, "type": live.config.type if live else None, "posts": [],
                    "verdict": "unavailable"}  # fmt: skip
        text = compose(draft, name, limits)
        rule = limits.text
        entry |= {"type": live.config.type, "rule": rule.name if rule else None,
                  "limit": rule.max if rule else None,
                  "length": rule.measure(text) if rule else len(text)}  # fmt: skip
        try:
            posts = fit(text, limits, policy, None)
        except TooLong as exc:
            return {**entry, "posts": [], "verdict": f"too long: {exc.detail}"}
        entry["posts"] = [{"text": p, "length": rule.measure(p) if rule else len(p)} for p in posts]
        if len(posts) > 1:
            entry["verdict"] = f"thread of {len(posts)} posts"
        elif rule is not None and rule.measure(text) > rule.max:
            entry["verdict"] = "truncated"
        else:
            entry["verdict"] = "fits"
        return entry

    async def cancel(self, message_id: int, actor: str) -> Message:
        await self.store.cancel_message(message_id, actor, self.clock.now())
        message = await self.store.message(message_id)
        if message is None:
            raise NotFound(f"no message {message_id}")
        return message


def _accepted_event(
    actor: str, route: str, planned: list[NewDelivery], scheduled_at: datetime | None
) -> NewEvent:
    return NewEvent(
        "message.accepted",
        actor=actor,
        detail={
            "route": route,
            "channels": [d.channel for d in planned if d.state is DeliveryState.PENDING],
            "skipped": {d.channel: d.note for d in planned if d.state is DeliveryState.SKIPPED},
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
        },
    )


def scoped_key(scope: str | None, key: str) -> str:
    """The stored form of a client's Idempotency-Key: ``<scope>/<key>``."""
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise InvalidInput("Idempotency-Key", f"must be 1 to {MAX_KEY} printable ASCII characters")
    return f"{scope}/{key}" if scope else key


def client_key(stored: str | None) -> str | None:
    """The key as its client sent it (keys stored before scoping have no scope)."""
    if stored is None or not stored.startswith("token:"):
        return stored
    return stored.partition("/")[2]


# The first bytes of each accepted image type: declared types are checked against the data.
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def _matches(content_type: str, data: bytes) -> bool:
    if content_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.startswith(_MAGIC.get(content_type, ()))


def _decode_image(index: int, image: ImageIn) -> bytes:
    try:
        data = base64.b64decode(image.data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"images.{index}.data", "is not valid base64") from None
    if not data:
        raise InvalidInput(f"images.{index}.data", "is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"images.{index}.data", f"is larger than {MAX_IMAGE_BYTES} bytes")
    if not _matches(image.content_type, data):
        raise InvalidInput(
            f"images.{index}.data", f"is not {image.content_type} (its bytes say otherwise)"
        )
    return data


def _check_strings(payload: Any) -> None:
    """Refuse a NUL or a lone surrogate anywhere in the input, keys included: no store
    takes them (PostgreSQL refuses NUL in text, and neither encodes a lone surrogate)."""
    stack: list[tuple[str, Any]] = [("", payload)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack += [(f"{where}.{k}" if where else str(k), k) for k in value]
            stack += [(f"{where}.{k}" if where else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(f"{where}.{i}", v) for i, v in enumerate(value)]
        elif isinstance(value, str) and ("\x00" in value or not _encodable(value)):
            raise InvalidInput(where or "body", "contains a NUL or an invalid character")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
