"""A local X API v2 that behaves like the real one (``shared/peers.md``, X section).

OAuth 1.0a signatures are verified with oauthlib (a wrong secret is a 401), posts are stored
with snowflake-like string ids, duplicate text is refused with X's 403, weighted length over
280 is refused, an unknown reply target is a 400, and every answer carries X's rate-limit
headers with the reset in epoch seconds. ``state.tier`` plays the account's API access level:
on ``free`` a timeline read is refused with X's 403 ``client-not-enrolled`` (Free tier apps may
post and read ``/2/users/me``, nothing more); ``state.lookup`` breaks only the timeline read
(404, 503 or a hang) to imitate a reconcile lookup that fails while posting works. Faults come
from ``PeerServer``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature

from channels.text import x_weighted_length
from tests.peers.faults import PeerServer, PeerStyle

CONSUMER_KEY, CONSUMER_SECRET = "x-consumer-key", "x-consumer-secret-000"
ACCESS_TOKEN, ACCESS_SECRET = "1-x-access-token", "x-access-secret-000"
BEARER = "x-user-bearer-000"
FREE_TIER_DETAIL = (
    "You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints "
    "(e.g. media post, oauth) only. If you need access to this endpoint, you may need a "
    "different access level. You can learn more here: https://developer.x.com/en/portal/product"
)
USER = {"id": "1500000000000000001", "name": "Acme", "username": "acme"}


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status, **extra}
    return web.json_response(body, status=status)


@dataclass
class Tweet:
    id: str
    text: str
    reply_to: str | None
    media_ids: list[str]
    at: float


@dataclass
class XState:
    tweets: list[Tweet] = field(default_factory=list)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: bool = False
    limit: int = 100  # posts per window, like a paid tier's per-user 15-minute window
    window: float = 900.0
    window_start: float = field(default_factory=time.time)
    used: int = 0
    refused_429: int = 0  # posts refused because the window's budget was spent
    tier: Literal["free", "basic"] = "basic"  # API access level: free cannot read timelines
    lookup: Literal["ok", "404", "503", "hang"] = "ok"  # how timeline reads fail, if they do
    lookups: int = 0  # timeline reads asked for


class XPeer:
    """``async with XPeer() as x``: base URL ``x.url``; posts in ``x.state.tweets``."""

    def __init__(self) -> None:
        self.state = XState()
        self._ids = itertools.count(1860000000000000001)
        app = web.Application()
        app.router.add_post("/2/tweets", self._create)
        app.router.add_delete("/2/tweets/{id}", self._delete)
        app.router.add_get("/2/users/me", self._me)
        app.router.add_get("/2/users/{id}/tweets", self._timeline)
        app.router.add_post("/2/media/upload", self._upload)
        app.router.add_post("/2/media/metadata", self._metadata)
        app.middlewares.append(self._auth)
        self.server = PeerServer(app, PeerStyle(
            json_error=lambda status, msg: problem(status, "Service Unavailable", msg),
            rate_limited=self._rate_limited,
            unauthorized=lambda: problem(401, "Unauthorized", "Unauthorized"),
            is_write=lambda r: r.method in ("POST", "DELETE"),
        ))  # fmt: skip

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def texts(self) -> list[str]:
        return [t.text for t in self.state.tweets]

    async def __aenter__(self) -> XPeer:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    def options(self, **extra: Any) -> dict[str, Any]:
        """Channel options (plain values) for an adapter pointed at this peer."""
        return {
            "api_base": self.url,
            "consumer_key": CONSUMER_KEY,
            "consumer_secret": CONSUMER_SECRET,
            "access_token": ACCESS_TOKEN,
            "access_token_secret": ACCESS_SECRET,
            **extra,
        }

    # -- rate limits -------------------------------------------------------------------------

    def _reset_epoch(self) -> int:
        now = time.time()
        if now - self.state.window_start >= self.state.window:
            self.state.window_start, self.state.used = now, 0
        return int(self.state.window_start + self.state.window) + 1

    def _headers(self) -> dict[str, str]:
        reset = self._reset_epoch()
        remaining = max(0, self.state.limit - self.state.used)
        return {
            "x-rate-limit-limit": str(self.state.limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset),
        }

    def _rate_limited(self, reset_in: float) -> web.Response:
        resp = problem(429, "Too Many Requests", "Too Many Requests")
        resp.headers.update({
            "x-rate-limit-limit": str(self.state.limit),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(time.time() + reset_in)),
        })  # fmt: skip
        return resp

    # -- auth --------------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.state.revoked or not self._signed(request):
            return problem(401, "Unauthorized", "Unauthorized")
        return await handler(request)  # type: ignore[no-any-return]

    def _signed(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[7:] == BEARER
        if not header.startswith("OAuth "):
            return False
        params = signature.collect_parameters(
            uri_query=request.query_string, headers={"Authorization": header},
            exclude_oauth_signature=False,
        )  # fmt: skip
        oauth = dict(params)
        if (
            oauth.get("oauth_consumer_key") != CONSUMER_KEY
            or oauth.get("oauth_token") != ACCESS_TOKEN
        ):
            return False
        req = OAuthRequest(str(request.url), http_method=request.method)
        req.params = [(k, v) for k, v in params if k != "oauth_signature"]
        req.signature = oauth.get("oauth_signature", "")
        return bool(signature.verify_hmac_sha1(req, CONSUMER_SECRET, ACCESS_SECRET))

    # -- endpoints ---------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = str(body.get("text", ""))
        self._reset_epoch()
        if self.state.used >= self.state.limit:
            self.state.refused_429 += 1
            return self._rate_limited(self.state.window_start + self.state.window - time.time())
        if x_weighted_length(text) > 280:
            return problem(
                403,
                "Forbidden",
                "Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.",
            )
        if any(t.text == text for t in self.state.tweets[-50:]):
            return problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
            )
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and all(t.id != reply_to for t in self.state.tweets):
            return problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                           errors=[{"message": f"The `reply.in_reply_to_tweet_id` query parameter value [{reply_to}] does not exist"}])  # fmt: skip
        media_ids = [str(m) for m in (body.get("media") or {}).get("media_ids", [])]
        unknown = [m for m in media_ids if m not in self.state.media]
        if unknown:
            return problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                           errors=[{"message": f"Your media IDs are invalid: {unknown}"}])  # fmt: skip
        self.state.used += 1
        tweet = Tweet(str(next(self._ids)), text, reply_to, media_ids, time.time())
        self.state.tweets.append(tweet)
        data = {"id": tweet.id, "text": text, "edit_history_tweet_ids": [tweet.id]}
        return web.json_response({"data": data}, status=201, headers=self._headers())

    async def _delete(self, request: web.Request) -> web.Response:
        """DELETE /2/tweets/:id: ``{"data": {"deleted": true}}``; an unknown id is a 404."""
        tweet_id = request.match_info["id"]
        if all(t.id != tweet_id for t in self.state.tweets):
            return problem(404, "Not Found Error", f"Could not find tweet with id: [{tweet_id}].")
        self.state.tweets = [t for t in self.state.tweets if t.id != tweet_id]
        return web.json_response({"data": {"deleted": True}}, headers=self._headers())

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response({"data": USER}, headers=self._headers())

    async def _timeline(self, request: web.Request) -> web.Response:
        self.state.lookups += 1
        if self.state.tier == "free":
            return problem(
                403,
                "Client Forbidden",
                FREE_TIER_DETAIL,
                reason="client-not-enrolled",
                required_enrollment="Appropriate Level of API Access",
                registration_url="https://developer.x.com/",
                type="https://api.x.com/2/problems/client-forbidden",
            )
        if self.state.lookup == "hang":
            await asyncio.sleep(3600)
        if self.state.lookup == "404":
            return problem(404, "Not Found Error", "Could not find the requested resource.")
        if self.state.lookup == "503":
            return problem(503, "Service Unavailable", "Service Unavailable")
        n = int(request.query.get("max_results", "10"))
        if request.match_info["id"] != USER["id"] or not 5 <= n <= 100:
            return problem(
                400, "Invalid Request", "One or more parameters to your request was invalid."
            )
        latest = [{"id": t.id, "text": t.text} for t in reversed(self.state.tweets)][:n]
        meta = {"result_count": len(latest)}
        return web.json_response({"data": latest, "meta": meta} if latest else {"meta": meta})

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            return problem(400, "Invalid Request", "media is required")
        data = media.file.read()
        media_id = str(next(self._ids))
        self.state.media[media_id] = {"bytes": data, "type": media.content_type, "alt": None}
        body = {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}
        return web.json_response({"data": body})

    async def _metadata(self, request: web.Request) -> web.Response:
        body = await request.json()
        media = self.state.media.get(str(body.get("id")))
        if media is None:
            return problem(400, "Invalid Request", "unknown media id")
        media["alt"] = body["metadata"]["alt_text"]["text"]
        return web.json_response({"data": {"associated_metadata": True, "id": body["id"]}})
