"""A local Mastodon-API server (``shared/peers.md``, Mastodon section): instance limits from
v2/v1, statuses with Idempotency-Key replay, 422 over the instance's own limit, media that
answers 202 and is processed a moment later, ``{"error": ...}`` bodies and X-RateLimit-* headers
with an ISO 8601 reset."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from channels.text import url_reserved_length
from tests.peers.faults import PeerServer, PeerStyle

TOKEN = "mastodon-test-token-000"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class MastodonState:
    statuses: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> status id
    headers: list[dict[str, str]] = field(default_factory=list)  # of each status POST
    max_characters: int = 500
    url_chars: int = 23
    v2: bool = True  # an older server has only /api/v1/instance
    processing_polls: int = 2  # GETs of a new upload that still say "processing" (206)
    revoked: bool = False
    limit: int = 300
    used: int = 0


class MastodonPeer:
    def __init__(self) -> None:
        self.state = MastodonState()
        self._ids = itertools.count(109000000000000001)
        app = web.Application()
        for path, method, handler in [
            ("/api/v2/instance", "GET", self._instance_v2),
            ("/api/v1/instance", "GET", self._instance_v1),
            ("/api/v1/accounts/verify_credentials", "GET", self._me),
            ("/api/v1/statuses", "POST", self._post),
            ("/api/v1/statuses/{id}", "DELETE", self._delete),
            ("/api/v2/media", "POST", self._upload),
            ("/api/v1/media/{id}", "GET", self._media),
        ]:
            # Rails answers with or without a trailing slash; Mastodon.py uses both forms.
            app.router.add_route(method, path, handler)
            app.router.add_route(method, path + "/", handler)
        app.middlewares.append(self._auth)
        self.server = PeerServer(app, PeerStyle(
            json_error=error,
            rate_limited=self._rate_limited,
            unauthorized=lambda: error(401, "The access token is invalid"),
            is_write=lambda r: r.method in ("POST", "DELETE"),
        ))  # fmt: skip

    @property
    def url(self) -> str:
        return self.server.url

    async def __aenter__(self) -> MastodonPeer:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    def texts(self) -> list[str]:
        return [s["text"] for s in self.state.statuses]

    def _limits(self) -> dict[str, str]:
        reset = time.time() + 300
        return {
            "X-RateLimit-Limit": str(self.state.limit),
            "X-RateLimit-Remaining": str(max(0, self.state.limit - self.state.used)),
            "X-RateLimit-Reset": iso(reset),
        }

    def _rate_limited(self, reset_in: float) -> web.Response:
        headers = {"X-RateLimit-Limit": str(self.state.limit), "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": iso(time.time() + reset_in)}  # fmt: skip
        return error(429, "Too many requests", headers)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        public = request.path.rstrip("/") in ("/api/v2/instance", "/api/v1/instance")
        if not public and (
            self.state.revoked or request.headers.get("Authorization") != f"Bearer {TOKEN}"
        ):
            return error(401, "The access token is invalid")
        return await handler(request)  # type: ignore[no-any-return]

    def _configuration(self) -> dict[str, Any]:
        return {"statuses": {"max_characters": self.state.max_characters, "max_media_attachments": 4,
                             "characters_reserved_per_url": self.state.url_chars},
                "media_attachments": {"supported_mime_types": ["image/png", "image/jpeg"],
                                      "image_size_limit": 16777216}}  # fmt: skip

    async def _instance_v2(self, request: web.Request) -> web.Response:
        if not self.state.v2:
            return error(404, "Record not found")
        return web.json_response({"domain": "social.example", "version": "4.3.0",
                                  "api_versions": {"mastodon": 2},
                                  "configuration": self._configuration()})  # fmt: skip

    async def _instance_v1(self, request: web.Request) -> web.Response:
        return web.json_response({"uri": "social.example", "version": "3.5.0",
                                  "configuration": self._configuration()})  # fmt: skip

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response({"id": "1", "username": "acme", "acct": "acme",
                                  "url": f"{self.url}/@acme"}, headers=self._limits())  # fmt: skip

    async def _args(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        args: dict[str, Any] = {}
        for key in set(form.keys()):
            values = form.getall(key)
            args[key.removesuffix("[]")] = values if key.endswith("[]") else values[0]
        return args

    async def _post(self, request: web.Request) -> web.Response:
        self.state.headers.append(dict(request.headers))
        key = request.headers.get("Idempotency-Key")
        if key and key in self.state.keys:
            sid = self.state.keys[key]
            return web.json_response(
                self._status_json(next(s for s in self.state.statuses if s["id"] == sid)),
                headers=self._limits(),
            )
        args = await self._args(request)
        text = str(args.get("status") or "")
        media_ids = [str(m) for m in (args.get("media_ids") or [])]
        if isinstance(args.get("media_ids"), str):
            media_ids = [args["media_ids"]]
        if not text and not media_ids:
            return error(422, "Validation failed: Text can't be blank")
        if url_reserved_length(self.state.url_chars)(text) > self.state.max_characters:
            return error(
                422,
                f"Validation failed: Text character limit of {self.state.max_characters} exceeded",
            )
        reply = args.get("in_reply_to_id")
        if reply and all(s["id"] != str(reply) for s in self.state.statuses):
            return error(404, "Record not found")
        for mid in media_ids:
            if mid not in self.state.media or self.state.media[mid]["polls_left"] > 0:
                return error(
                    422, "Validation failed: media is not ready"
                )  # attach only processed media
        self.state.used += 1
        sid = str(next(self._ids))
        status = {"id": sid, "text": text, "in_reply_to_id": str(reply) if reply else None,
                  "visibility": args.get("visibility", "public"), "spoiler_text": args.get("spoiler_text") or "",
                  "sensitive": str(args.get("sensitive")).lower() in ("true", "1"),
                  "language": args.get("language"), "media_ids": media_ids}  # fmt: skip
        self.state.statuses.append(status)
        if key:
            self.state.keys[key] = sid
        return web.json_response(self._status_json(status), headers=self._limits())

    def _status_json(self, s: dict[str, Any]) -> dict[str, Any]:
        return {"id": s["id"], "uri": f"{self.url}/users/acme/statuses/{s['id']}",
                "url": f"{self.url}/@acme/{s['id']}", "created_at": iso(time.time()),
                "content": f"<p>{s['text']}</p>", "in_reply_to_id": s["in_reply_to_id"],
                "visibility": s["visibility"], "spoiler_text": s["spoiler_text"],
                "sensitive": s["sensitive"], "language": s["language"],
                "media_attachments": [self._media_json(m) for m in s["media_ids"]],
                "account": {"id": "1", "username": "acme", "acct": "acme"}}  # fmt: skip

    def _media_json(self, mid: str) -> dict[str, Any]:
        m = self.state.media[mid]
        ready = m["polls_left"] <= 0
        return {"id": mid, "type": "image", "description": m["description"],
                "url": f"{self.url}/media/{mid}.png" if ready else None,
                "preview_url": f"{self.url}/media/{mid}_small.png"}  # fmt: skip

    async def _delete(self, request: web.Request) -> web.Response:
        """DELETE /api/v1/statuses/:id answers the deleted status; an unknown id is a 404."""
        sid = request.match_info["id"]
        status = next((s for s in self.state.statuses if s["id"] == sid), None)
        if status is None:
            return error(404, "Record not found")
        self.state.statuses.remove(status)
        return web.json_response({**self._status_json(status), "text": status["text"]})

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return error(422, "Validation failed: File can't be blank")
        mid = str(next(self._ids))
        self.state.media[mid] = {"bytes": upload.file.read(), "type": upload.content_type,
                                 "description": form.get("description"),
                                 "polls_left": self.state.processing_polls}  # fmt: skip
        status = 202 if self.state.processing_polls > 0 else 200
        return web.json_response(self._media_json(mid), status=status)

    async def _media(self, request: web.Request) -> web.Response:
        mid = request.match_info["id"]
        if mid not in self.state.media:
            return error(404, "Record not found")
        m = self.state.media[mid]
        m["polls_left"] -= 1
        return web.json_response(self._media_json(mid), status=206 if m["polls_left"] > 0 else 200)
