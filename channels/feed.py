"""The owned channel: a static status page with Atom and JSON Feed, written to a directory.

No outage elsewhere can take it away, so it is the last tier of most routes. Every file is
replaced atomically (write, fsync, rename): a reader or a crash never sees half a page. The
item list is the adapter's own state (``items.json`` beside the page), keyed by the post's
idempotency key, so a retried or replayed post replaces its item instead of adding a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from channels.base import (
    IMAGE_EXTENSIONS,
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
from channels.feed_formats import FeedImage, FeedItem, FeedMeta, atom, html_page, json_feed


class FeedOptions(ChannelOptions):
    title: str = "Status updates"
    description: str = "Announcements, wherever our other channels are."
    max_items: int = 50
    directory: Path | None = None  # default: <channel state dir>/public
    base_url: str | None = None  # default: <api.public_url>/status/
    language: str | None = None
    # Where else to find us, shown on the page: {"Mastodon" = "https://social.example/@acme"}
    profiles: dict[str, str] = {}


class FeedChannel:
    """Writes ``index.html``, ``feed.atom``, ``feed.json`` and ``items.json`` atomically."""

    type_name: ClassVar[str] = "feed"
    Options: ClassVar[type[ChannelOptions]] = FeedOptions

    def __init__(self, context: ChannelContext, options: FeedOptions) -> None:
        self.options = options
        self.directory = options.directory or context.state_dir / "public"
        base = options.base_url or (
            f"{context.public_url.rstrip('/')}/status/" if context.public_url else "./"
        )
        self.meta = FeedMeta(
            title=options.title,
            description=options.description,
            base_url=base if base.endswith("/") else base + "/",
            language=options.language,
            profiles=tuple(options.profiles.items()),
        )
        self._items: list[FeedItem] = []
        self._lock = asyncio.Lock()

    @property
    def limits(self) -> Limits:
        return Limits(
            text=None,
            max_media=4,
            max_media_bytes=10 * 1024 * 1024,
            media_types=IMAGE_TYPES,
            threads=True,
            title=True,
        )

    async def open(self) -> None:
        try:
            self._items = await asyncio.to_thread(self._load)
            if not (self.directory / "index.html").exists():
                # The page exists from the first start ("No announcements yet"): an outage
                # announcement may link to it before anything was posted here.
                await asyncio.to_thread(self._publish, self._items, datetime.now(UTC))
        except OSError as exc:
            raise PermanentError(f"feed directory {self.directory}: {exc.strerror}") from exc
        except (ValueError, TypeError) as exc:
            raise PermanentError(f"{self.directory / 'items.json'} is not a feed: {exc}") from exc

    async def send(self, post: Post) -> Receipt:
        now = datetime.now(UTC)
        async with self._lock:
            existing = next((i for i in self._items if i.key == post.key), None)
            item = FeedItem(
                id=post.message_id,
                key=post.key,
                text=post.text,
                title=post.title,
                link=post.link,
                published=existing.published if existing else now.isoformat(),
                updated=now.isoformat(),
                url=f"{self.meta.base_url}#item-{post.message_id}",
                in_reply_to=_thread_item(post),
            )
            items = [i for i in self._items if i.key != post.key]
            items.insert(0, item)
            del items[self.options.max_items :]
            try:
                await asyncio.to_thread(self._write, item, post, items, now)
            except OSError as exc:
                raise TransientError(f"writing the feed failed: {exc.strerror}") from exc
            self._items = items
        return Receipt(remote_id=str(post.message_id), url=item.url, extra={"id": post.message_id})

    async def retract(self, part: Receipt) -> None:
        """Take the item off the page and out of both feeds (readers' copies stay theirs)."""
        item_id = part.extra.get("id")
        async with self._lock:
            items = [i for i in self._items if i.id != item_id]
            if len(items) == len(self._items):
                return  # already gone
            try:
                await asyncio.to_thread(self._publish, items, datetime.now(UTC))
            except OSError as exc:
                raise TransientError(f"writing the feed failed: {exc.strerror}") from exc
            self._items = items

    async def check(self) -> CheckResult:
        probe = self.directory / ".check"
        try:
            await asyncio.to_thread(_atomic_write, probe, b"ok")
            await asyncio.to_thread(probe.unlink)
        except OSError as exc:
            return CheckResult(ok=False, detail=f"{self.directory} not writable: {exc.strerror}")
        return CheckResult(ok=True, detail=f"{len(self._items)} items in {self.directory}")

    async def close(self) -> None:
        return None

    # -- files, run in a worker thread ---------------------------------------------------------

    def _load(self) -> list[FeedItem]:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "items.json"
        if not path.exists():
            return []
        raw = json.loads(path.read_text())
        return [FeedItem.from_json(entry) for entry in raw]

    def _write(self, item: FeedItem, post: Post, items: list[FeedItem], now: datetime) -> None:
        media_dir = self.directory / "media"
        for image in post.media:
            ext = IMAGE_EXTENSIONS.get(image.content_type)
            if ext is None:
                raise PermanentError(f"image type {image.content_type} is not supported")
            name = f"{hashlib.sha256(image.data).hexdigest()[:24]}.{ext}"
            media_dir.mkdir(exist_ok=True)
            media_dir.chmod(0o755)  # public, like the files in it
            if not (media_dir / name).exists():
                _atomic_write(media_dir / name, image.data)
            item.images.append(
                FeedImage(
                    url=f"{self.meta.base_url}media/{name}",
                    alt=image.alt,
                    content_type=image.content_type,
                )
            )
        self._publish(items, now)

    def _publish(self, items: list[FeedItem], now: datetime) -> None:
        _atomic_write(
            self.directory / "items.json",
            json.dumps([i.to_json() for i in items], ensure_ascii=False, indent=1).encode(),
        )
        _atomic_write(self.directory / "feed.atom", atom(self.meta, items, now))
        _atomic_write(self.directory / "feed.json", json_feed(self.meta, items))
        _atomic_write(self.directory / "index.html", html_page(self.meta, items, now))


def _thread_item(post: Post) -> int | None:
    root = post.thread_root or post.reply_to
    if root is None or "id" not in root.extra:
        return None
    return int(root.extra["id"])


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        os.fchmod(fh.fileno(), 0o644)  # public by design, whatever the daemon's umask
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
