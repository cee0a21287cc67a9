"""A Mastodon-shaped fediverse server, for what Mastodon checks and Fedify may not.

Accounts share one ``sharedInbox`` (so a post to several of them must arrive once). Before
following, it does Mastodon's WebFinger round trip: the actor's ``preferredUsername@host``
must resolve back to the same actor id. Every POST it receives must be signed (draft-cavage,
``(request-target) host date digest content-type``) by the actor's key, fetched by ``keyId``;
a Create whose Note's host differs from the actor's host is dropped, as Mastodon drops it.
Its own requests are signed with its accounts' keys, and it can send forged ones on purpose.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from channels.activitypub.signatures import new_private_key, parse, public_pem, sign, verify

AP = "application/activity+json"


@dataclass
class Account:
    name: str
    private_pem: str = field(default_factory=new_private_key)


class MastodonAP:
    def __init__(self, accounts: tuple[str, ...] = ("alice", "bob")) -> None:
        self.accounts = {n: Account(n) for n in accounts}
        self.received: list[dict[str, Any]] = []  # accepted deliveries: {path, activity}
        self.refused: list[tuple[str, str]] = []  # (path, why)
        self.posts: dict[str, int] = {}  # path -> POSTs
        self.status = 202  # what the inboxes answer (tests make it fail)
        self.hang = False  # accept inbox requests and never answer
        self.authorized_fetch = False  # actors are served to signed GETs only
        self.signed_gets = 0
        self.actor_status: int | None = None  # answer actor GETs with this instead
        self._released = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def actor_id(self, name: str) -> str:
        return f"{self.url}/users/{name}"

    async def __aenter__(self) -> MastodonAP:
        app = web.Application()
        app.router.add_get("/users/{name}", self._actor)
        app.router.add_post("/users/{name}/inbox", self._inbox)
        app.router.add_post("/inbox", self._inbox)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._runner is not None
        self._released.set()
        await self._runner.cleanup()

    async def _actor(self, request: web.Request) -> web.Response:
        account = self.accounts.get(request.match_info["name"])
        if account is None:
            raise web.HTTPNotFound()
        if AP not in request.headers.get("Accept", ""):
            raise web.HTTPNotAcceptable()
        if self.actor_status is not None:
            return web.Response(status=self.actor_status)
        if self.authorized_fetch:  # Mastodon's secure mode: only signed GETs see actors
            why = await self._check_get(request)
            if why:
                self.refused.append((request.path, why))
                return web.Response(status=401, text=why)
        actor = self.actor_id(account.name)
        doc = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor, "type": "Person", "preferredUsername": account.name,
            "inbox": f"{actor}/inbox", "endpoints": {"sharedInbox": f"{self.url}/inbox"},
            "publicKey": {"id": f"{actor}#main-key", "owner": actor,
                          "publicKeyPem": public_pem(account.private_pem)},
        }  # fmt: skip
        return web.json_response(doc, content_type=AP)

    async def _inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.posts[request.path] = self.posts.get(request.path, 0) + 1
        if self.hang:
            await self._released.wait()
            return web.Response(status=503)
        headers = {k.lower(): v for k, v in request.headers.items()}
        why = await self._check(request, headers, body)
        if why:
            self.refused.append((request.path, why))
            return web.Response(status=401, text=why)
        if self.status >= 300:
            return web.Response(status=self.status, text="not now")
        self.received.append({"path": request.path, "activity": json.loads(body)})
        return web.Response(status=self.status)

    async def _check_get(self, request: web.Request) -> str:
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            params = parse(headers)
            async with (
                aiohttp.ClientSession() as s,
                s.get(params.key_id.split("#")[0], headers={"Accept": AP}) as r,
            ):
                signer = await r.json(content_type=None)
            verify("GET", request.path_qs, headers, b"", params,
                   signer["publicKey"]["publicKeyPem"], datetime.now(UTC))  # fmt: skip
        except ValueError as exc:
            return f"GET not signed: {exc}"
        self.signed_gets += 1
        return ""

    async def _check(self, request: web.Request, headers: dict[str, str], body: bytes) -> str:
        signed = headers.get("signature", "")
        if "content-type" not in signed or "digest" not in signed:
            return "must sign digest and content-type"
        params = parse(headers)
        activity = json.loads(body)
        async with (
            aiohttp.ClientSession() as s,
            s.get(params.key_id.split("#")[0], headers={"Accept": AP}, ssl=False) as r,
        ):
            actor = await r.json(content_type=None)
        if actor["publicKey"]["id"] != params.key_id or actor["id"] != activity["actor"]:
            return "key does not belong to the activity's actor"
        try:
            verify("POST", request.path_qs, headers, body, params,
                   actor["publicKey"]["publicKeyPem"], datetime.now(UTC))  # fmt: skip
        except ValueError as exc:
            return str(exc)
        obj = activity.get("object")
        if (
            activity["type"] == "Create"
            and isinstance(obj, dict)
            and urlsplit(obj["id"]).netloc != urlsplit(activity["actor"]).netloc
        ):
            return "Note host differs from the actor's host: dropped"
        return ""

    # -- what its users do -------------------------------------------------------------------

    async def webfinger_round_trip(self, daemon_url: str, handle: str) -> str:
        """Mastodon's lookup: WebFinger the handle, fetch the actor, WebFinger its
        ``preferredUsername@host`` back; both must name the same actor. Returns its id."""
        async with aiohttp.ClientSession() as s:
            actor_id = await _webfinger(s, daemon_url, handle)
            async with s.get(actor_id, headers={"Accept": AP}) as r:
                actor = await r.json(content_type=None)
            back = f"{actor['preferredUsername']}@{urlsplit(actor_id).netloc}"
            again = await _webfinger(s, daemon_url, back)
        assert again == actor_id == actor["id"], (actor_id, again, actor["id"])
        return actor_id

    async def send(
        self,
        name: str,
        inbox: str,
        activity: dict[str, Any],
        *,
        key_pem: str | None = None,
        date: datetime | None = None,
        tamper_body: bool = False,
    ) -> int:
        """POST ``activity`` signed as ``name`` (or with another key / date / a body that no
        longer matches its Digest); the HTTP status."""
        account = self.accounts[name]
        body = json.dumps(activity).encode()
        headers = sign(
            "POST", inbox, {"content-type": AP}, key_id=f"{self.actor_id(name)}#main-key",
            private_pem=key_pem or account.private_pem, now=date or datetime.now(UTC), body=body,
        )  # fmt: skip
        if tamper_body:
            body = body.replace(b"Follow", b"Follow ")
        async with aiohttp.ClientSession() as s, s.post(inbox, data=body, headers=headers) as r:
            return r.status

    def follow(self, name: str, target: str) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.actor_id(name)}#follows/{uuid.uuid4()}",
            "type": "Follow",
            "actor": self.actor_id(name),
            "object": target,
        }

    def delivered(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["activity"]["type"] == kind]


async def _webfinger(s: aiohttp.ClientSession, daemon_url: str, handle: str) -> str:
    url = f"{daemon_url}/.well-known/webfinger"
    async with s.get(url, params={"resource": f"acct:{handle}"}) as r:
        assert r.status == 200, (handle, r.status)
        assert r.content_type == "application/jrd+json"
        jrd = await r.json(content_type=None)
    assert jrd["subject"] == f"acct:{handle}" or jrd["subject"].startswith("acct:")
    return str(next(link["href"] for link in jrd["links"] if link.get("rel") == "self"))


STALE = timedelta(hours=2)
