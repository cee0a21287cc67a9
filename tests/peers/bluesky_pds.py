"""A local AT Protocol PDS (``shared/peers.md``, Bluesky section): sessions with JWT-shaped
access and refresh tokens that really expire (400 ExpiredToken), createRecord with the
lexicon's 300-grapheme rule and facet checks, getRecord, uploadBlob with its size limit, XRPC
error bodies and ratelimit-* headers. No AppView: app.bsky.* reads are not served."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from channels.text import grapheme_length
from tests.peers.faults import PeerServer, PeerStyle

HANDLE, DID = "acme.test", "did:plc:acmetestacmetest0000000"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


def xrpc_error(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status, headers=headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@dataclass
class PdsState:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # rkey -> record
    cids: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    refresh: set[str] = field(default_factory=set)
    create_sessions: int = 0
    refreshes: int = 0
    access_ttl: float = 7200.0
    password: str = APP_PASSWORD
    limit: int = 5000
    used: int = 0


class BlueskyPds:
    def __init__(self) -> None:
        self.state = PdsState()
        self._n = itertools.count(1)
        app = web.Application()
        for name in ("com.atproto.server.createSession", "com.atproto.server.refreshSession",
                     "com.atproto.repo.createRecord", "com.atproto.repo.uploadBlob",
                     "com.atproto.repo.deleteRecord"):  # fmt: skip
            app.router.add_post(f"/xrpc/{name}", self._route)
        for name in ("com.atproto.server.getSession", "com.atproto.repo.getRecord"):
            app.router.add_get(f"/xrpc/{name}", self._route)
        self.server = PeerServer(app, PeerStyle(
            json_error=lambda status, msg: xrpc_error(status, "InternalServerError", msg),
            rate_limited=lambda reset: xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", self._limits(0, reset)),
            unauthorized=lambda: xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password"),
            is_write=lambda r: r.method == "POST" and r.path.endswith(("createRecord", "uploadBlob")),
        ))  # fmt: skip

    @property
    def url(self) -> str:
        return self.server.url

    async def __aenter__(self) -> BlueskyPds:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    def posts(self) -> list[dict[str, Any]]:
        return list(self.state.records.values())

    def expire_access_tokens(self) -> None:
        """Every access token the PDS issued is now past its expiry (the SDK does not know)."""
        for token in self.state.access:
            self.state.access[token] = time.time() - 1

    def revoke_app_password(self) -> None:
        self.state.password = "revoked"
        self.state.access.clear()
        self.state.refresh.clear()

    def _limits(self, remaining: int, reset_in: float = 3600) -> dict[str, str]:
        return {"ratelimit-limit": str(self.state.limit), "ratelimit-remaining": str(remaining),
                "ratelimit-reset": str(int(time.time() + reset_in)), "ratelimit-policy": f"{self.state.limit};w=3600"}  # fmt: skip

    def _issue(self) -> dict[str, Any]:
        now = int(time.time())
        access = f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64({'scope': 'com.atproto.appPass', 'sub': DID, 'iat': now, 'exp': int(now + self.state.access_ttl), 'aud': 'did:web:pds.test'})}.sig{next(self._n)}"
        refresh = f"{_b64({'typ': 'refresh+jwt', 'alg': 'ES256K'})}.{_b64({'scope': 'com.atproto.refresh', 'sub': DID, 'iat': now, 'exp': now + 90 * 86400, 'jti': str(next(self._n))})}.sig"
        self.state.access[access] = now + self.state.access_ttl
        self.state.refresh.add(refresh)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": HANDLE,
            "did": DID,
            "active": True,
        }

    def _bearer(self, request: web.Request) -> str:
        return request.headers.get("Authorization", "").removeprefix("Bearer ")

    def _check_access(self, request: web.Request) -> web.Response | None:
        token = self._bearer(request)
        if token not in self.state.access:
            return xrpc_error(400, "InvalidToken", "Token could not be verified")
        if self.state.access[token] < time.time():
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        return None

    async def _route(self, request: web.Request) -> web.Response:
        name = request.path.rsplit(".", 1)[1]  # the NSID's last segment
        if name == "createSession":
            body = await request.json()
            self.state.create_sessions += 1
            if (
                body.get("identifier") not in (HANDLE, DID)
                or body.get("password") != self.state.password
            ):
                return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
            return web.json_response(self._issue())
        if name == "refreshSession":
            token = self._bearer(request)
            if token not in self.state.refresh:
                return xrpc_error(400, "ExpiredToken", "Token has been revoked")
            self.state.refresh.discard(token)
            self.state.refreshes += 1
            return web.json_response(self._issue())
        problem = self._check_access(request)
        if problem is not None:
            return problem
        if name == "getSession":
            return web.json_response({"handle": HANDLE, "did": DID, "active": True})
        if name == "getRecord":
            rkey = request.query.get("rkey", "")
            if rkey not in self.state.records:
                return xrpc_error(
                    400,
                    "RecordNotFound",
                    f"Could not locate record: at://{DID}/app.bsky.feed.post/{rkey}",
                )
            return web.json_response(
                {
                    "uri": self._uri(rkey),
                    "cid": self.state.cids[rkey],
                    "value": self.state.records[rkey],
                }
            )
        if name == "uploadBlob":
            data = await request.read()
            if len(data) > 1_000_000:
                return xrpc_error(
                    400,
                    "BlobTooLarge",
                    "This file is too large. It is 1.2MB but the maximum size is 976.56KB.",
                )
            cid = "bafkrei" + hashlib.sha256(data).hexdigest()[:52]
            mime = request.headers.get("Content-Type", "application/octet-stream")
            self.state.blobs[cid] = {"data": data, "mimeType": mime}
            return web.json_response(
                {
                    "blob": {
                        "$type": "blob",
                        "ref": {"$link": cid},
                        "mimeType": mime,
                        "size": len(data),
                    }
                }
            )
        if name == "deleteRecord":  # deleting a record that is not there is no error
            rkey = str((await request.json()).get("rkey", ""))
            self.state.records.pop(rkey, None)
            self.state.cids.pop(rkey, None)
            return web.json_response({"commit": {"cid": "bafyreideleted", "rev": rkey}})
        return self._create(await request.json())

    def _uri(self, rkey: str) -> str:
        return f"at://{DID}/app.bsky.feed.post/{rkey}"

    def _create(self, body: dict[str, Any]) -> web.Response:
        record, rkey = body.get("record") or {}, body.get("rkey") or f"3l{next(self._n):011d}"
        if body.get("repo") not in (DID, HANDLE) or body.get("collection") != "app.bsky.feed.post":
            return xrpc_error(400, "InvalidRequest", "Invalid repo or collection")
        if rkey in self.state.records:  # what the reference PDS answers (seen here)
            return xrpc_error(500, "InternalServerError", "Internal Server Error")
        text = str(record.get("text", ""))
        if grapheme_length(text) > 300:
            return xrpc_error(
                400,
                "InvalidRequest",
                f"Invalid app.bsky.feed.post record: grapheme too big (maximum 300, got {grapheme_length(text)}) at $.record.text",
            )
        size = len(text.encode())
        for facet in record.get("facets") or []:
            i = facet["index"]
            if not 0 <= i["byteStart"] < i["byteEnd"] <= size:
                return xrpc_error(400, "InvalidRequest", "Invalid facet byte range")
        reply = record.get("reply")
        if reply is not None:
            for ref in (reply["root"], reply["parent"]):
                target = ref["uri"].rsplit("/", 1)[1]
                if self.state.cids.get(target) != ref["cid"]:
                    return xrpc_error(400, "InvalidRequest", "Invalid reply reference")
        for image in (record.get("embed") or {}).get("images") or []:
            if image["image"]["ref"]["$link"] not in self.state.blobs:
                return xrpc_error(400, "InvalidRequest", "Blob not found")
        self.state.used += 1
        cid = (
            "bafyrei" + hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:52]
        )
        self.state.records[rkey], self.state.cids[rkey] = record, cid
        headers = self._limits(self.state.limit - self.state.used)
        return web.json_response(
            {"uri": self._uri(rkey), "cid": cid, "commit": {"cid": cid, "rev": rkey}},
            headers=headers,
        )
