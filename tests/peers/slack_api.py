"""A local Slack: the Web API's HTTP-200 ``ok: false`` errors, 429 with Retry-After, threads by
``ts``, permalinks, and incoming webhooks that answer in plain text (``shared/peers.md``)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.peers.faults import PeerServer, PeerStyle

TOKEN = "xoxb-test-slack-token-000"
CHANNEL_ID = "C0FAILOVER"
HOOK_PATH = "/services/T000/B000/secretpart000"


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    thread_ts: str | None
    extra: dict[str, Any]


@dataclass
class SlackState:
    messages: list[SlackMessage] = field(default_factory=list)
    hooked: list[dict[str, Any]] = field(default_factory=list)
    revoked: bool = False
    next_errors: list[str] = field(default_factory=list)  # ok:false errors for the next posts
    hook_answers: list[tuple[int, str]] = field(default_factory=list)  # webhook (status, body)
    channels: dict[str, str] = field(
        default_factory=lambda: {"C0FAILOVER": "status", "#status": "status"}
    )


def ok_false(error: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers)


class SlackPeer:
    def __init__(self) -> None:
        self.state = SlackState()
        self._ts = itertools.count(1)
        app = web.Application()
        for method in (
            "chat.postMessage",
            "chat.delete",
            "auth.test",
            "chat.getPermalink",
            "conversations.history",
        ):
            app.router.add_post(f"/api/{method}", self._api)
            app.router.add_get(f"/api/{method}", self._api)  # slack-sdk GETs some methods
        app.router.add_post(HOOK_PATH, self._hook)
        self.server = PeerServer(app, PeerStyle(
            json_error=lambda status, msg: web.Response(status=status, text=f"<html><body>{msg}</body></html>", content_type="text/html"),
            rate_limited=lambda reset: ok_false("ratelimited", 429, {"Retry-After": str(int(reset))}),
            unauthorized=lambda: ok_false("invalid_auth"),
            is_write=lambda r: r.path.endswith("chat.postMessage") or r.path.startswith("/services/"),
        ))  # fmt: skip

    @property
    def api_base(self) -> str:
        return f"{self.server.url}/api/"

    @property
    def hook_url(self) -> str:
        return f"{self.server.url}{HOOK_PATH}"

    async def __aenter__(self) -> SlackPeer:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    async def _api(self, request: web.Request) -> web.Response:
        if self.state.revoked or request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return ok_false("token_revoked" if self.state.revoked else "invalid_auth")
        if request.method == "GET":
            args: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            args = await request.json()
        else:
            args = dict(await request.post())
        args = {**request.query, **args}  # slack-sdk sends some methods' arguments in the URL
        method = request.path.rsplit("/", 1)[1]
        if method == "auth.test":
            return web.json_response({"ok": True, "url": "https://acme.slack.com/", "team": "Acme",
                                      "user": "failover", "team_id": "T000", "user_id": "U000"})  # fmt: skip
        if method == "chat.getPermalink":
            ts = str(args["message_ts"]).replace(".", "")
            return web.json_response({"ok": True, "channel": args["channel"],
                                      "permalink": f"https://acme.slack.com/archives/{args['channel']}/p{ts}"})  # fmt: skip
        if method == "chat.delete":
            found = [m for m in self.state.messages if m.ts == args.get("ts")]
            if not found:
                return ok_false("message_not_found")
            self.state.messages.remove(found[0])
            return web.json_response({"ok": True, "channel": found[0].channel, "ts": found[0].ts})
        if method == "conversations.history":
            latest = [
                {"type": "message", "ts": m.ts, "text": m.text}
                for m in reversed(self.state.messages)
            ]
            return web.json_response(
                {"ok": True, "messages": latest[: int(args.get("limit", 100))]}
            )
        return self._post(args)

    def _post(self, args: dict[str, Any]) -> web.Response:
        if self.state.next_errors:
            return ok_false(self.state.next_errors.pop(0))
        channel = str(args.get("channel", ""))
        if channel not in self.state.channels:
            return ok_false("channel_not_found")
        text = str(args.get("text") or "")
        if not text and not args.get("blocks"):
            return ok_false("no_text")
        if len(text) > 40000:
            return ok_false("msg_too_long")
        thread_ts = args.get("thread_ts")
        if thread_ts is not None and all(m.ts != thread_ts for m in self.state.messages):
            return ok_false("thread_not_found")
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        extra = {k: v for k, v in args.items() if k not in ("channel", "text", "thread_ts")}
        self.state.messages.append(SlackMessage(CHANNEL_ID, ts, text, thread_ts, extra))
        return web.json_response({"ok": True, "channel": CHANNEL_ID, "ts": ts,
                                  "message": {"type": "message", "text": text, "ts": ts}})  # fmt: skip

    async def _hook(self, request: web.Request) -> web.Response:
        if self.state.hook_answers:
            status, body = self.state.hook_answers.pop(0)
            headers = {"Retry-After": "3"} if status == 429 else {}
            return web.Response(status=status, text=body, headers=headers)
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not payload.get("text") and not payload.get("blocks"):
            return web.Response(status=400, text="no_text")
        self.state.hooked.append(payload)
        return web.Response(text="ok")
