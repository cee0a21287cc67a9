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
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from failover import router
from failover.adapters import ChannelSet
from failover.clock import Clock
from failover.config import Config, TracingConfig
from failover.errors import Conflict, InvalidInput, NotFound
from failover.fitting import TooLong, compose, fit
from failover.metrics import Metrics
from failover.model import DeliveryState, ImageRef, Message, NewMessage
from failover.store.base import NewEvent, Store
from failover.tracing import Tracing, record

MAX_TEXT = 100_000  # characters, for the text and for each per-channel override
MAX_OVERRIDES = 64  # per-channel texts in one message
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


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
    thread: int | None = Field(None, ge=1)


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


class PreviewIn(BaseModel):
    """The parts of a message that decide how it is fitted (images are not needed)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    text: str = Field("", max_length=MAX_TEXT)
    title: str | None = Field(None, max_length=300)
    link: str | None = Field(None, max_length=2000)
    overrides: Overrides = {}
    route: str | None = None


def _validated(model: type[_M], payload: dict[str, Any]) -> _M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "body"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and model is MessageEdit:
            message = "cannot be edited; cancel the message and send a new one"
        raise InvalidInput(field, message) from None


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
        self, payload: dict[str, Any], actor: str, idempotency_key: str | None = None
    ) -> tuple[Message, bool]:
        """Validate, route and store; return (message, created). Raises InvalidInput."""
        request_hash = hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= 200:
                raise InvalidInput("Idempotency-Key", "must be 1 to 200 characters")
            earlier = await self.store.message_by_key(idempotency_key)
            if earlier is not None:
                return await self._replay(earlier, request_hash)
        data = _validated(MessageIn, payload)
        now = self.clock.now()
        route_name = data.route or self.config.default_route
        route = self.config.routes.get(route_name)
        if route is None:
            raise InvalidInput(
                "route", f"no route named {route_name!r}; known: {', '.join(self.config.routes)}"
            )
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
        images = tuple(self._save_image(i, img) for i, img in enumerate(data.images))
        new = NewMessage(
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
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        due = max(now, data.scheduled_at) if data.scheduled_at else now
        planned = router.plan(route, due, self.unusable)
        if route.fit == "reject":
            self._check_fits(new, [d.channel for d in planned if d.state is DeliveryState.PENDING])
        events = [
            NewEvent(
                "message.accepted",
                actor=actor,
                detail={
                    "route": route_name,
                    "channels": [d.channel for d in planned if d.state is DeliveryState.PENDING],
                    "skipped": {
                        d.channel: d.note for d in planned if d.state is DeliveryState.SKIPPED
                    },
                    "scheduled_at": data.scheduled_at.isoformat() if data.scheduled_at else None,
                },
            )
        ]
        tracing = self.tracing or Tracing(TracingConfig())
        with tracing.span(
            "message.accept", {"failover.route": route_name, "failover.actor": actor}
        ) as span:
            new = dataclasses.replace(new, traceparent=tracing.traceparent())
            message, created = await self.store.create_message(new, planned, events, now)
            record(span, **{"failover.message_id": message.id, "failover.created": created})
        if not created:
            return await self._replay(message, request_hash)
        if self.metrics is not None:
            self.metrics.accepted.labels(route_name).inc()
        self.on_accepted()
        return message, True

    async def _replay(self, earlier: Message, request_hash: str) -> tuple[Message, bool]:
        if earlier.request_hash is not None and earlier.request_hash != request_hash:
            raise Conflict("this Idempotency-Key was used for a different request")
        return earlier, False

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

    def _save_image(self, index: int, image: ImageIn) -> ImageRef:
        try:
            data = base64.b64decode(image.data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"images.{index}.data", "is not valid base64") from None
        if not data:
            raise InvalidInput(f"images.{index}.data", "is empty")
        if len(data) > MAX_IMAGE_BYTES:
            raise InvalidInput(f"images.{index}.data", f"is larger than {MAX_IMAGE_BYTES} bytes")
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
        fields = {name: getattr(data, name) for name in data.model_fields_set}
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
        route = self.config.routes.get(route_name)
        if route is None:
            raise InvalidInput(
                "route", f"no route named {route_name!r}; known: {', '.join(self.config.routes)}"
            )
        draft = NewMessage(text=data.text, route=route_name, created_by="preview",
                           title=data.title, link=data.link, overrides=data.overrides)  # fmt: skip
        channels = []
        for tier_index, tier in enumerate(route.tiers):
            for name in tier:
                channels.append(self._preview_one(draft, name, tier_index, route.fit))
        return {"route": route_name, "mode": route.mode, "fit": route.fit, "channels": channels}

    def _preview_one(self, draft: NewMessage, name: str, tier: int, policy: str) -> dict[str, Any]:
        live = self.channels.get(name)
        entry: dict[str, Any] = {"channel": name, "tier": tier, "unavailable": self.unusable(name)}
        if live is None or live.adapter is None:
            return {**entry, "type": live.config.type if live else None, "posts": [],
                    "verdict": "unavailable"}  # fmt: skip
        limits = live.adapter.limits
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
