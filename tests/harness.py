"""An in-process daemon for integration tests: a real config file, store, API and adapters."""

from __future__ import annotations

import asyncio
import socket
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from failover.clock import Clock
from failover.config import load_config
from failover.daemon import Daemon
from failover.model import Role
from failover.tokens import new_token, token_hash
from tests import secrets_registry


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(directory: Path, body: str, port: int | None = None) -> Path:
    """A config file with the given channels/routes, a free API port and fast retries."""
    port = port or free_port()
    path = directory / "failover.toml"
    header = textwrap.dedent(
        f"""
        state_dir = "state"
        claim_lease = "20s"
        shutdown_grace = "3s"

        [api]
        listen = "127.0.0.1:{port}"
        public_url = "http://127.0.0.1:{port}"

        [retry]
        max_attempts = 5
        initial = "100ms"
        max_backoff = "1s"
        jitter = "50ms"
        """
    )
    path.write_text(header + textwrap.dedent(body))
    return path


@dataclass
class Harness:
    daemon: Daemon
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.daemon.config.api.listen}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        role: str | None = "admin",
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        hdrs = dict(headers or {})
        if role is not None:
            hdrs["Authorization"] = f"Bearer {self.tokens[role]}"
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, self.url + path, json=json, headers=hdrs) as r,
        ):
            body = await r.json(content_type=None) if r.content_length != 0 else None
            return r.status, body

    async def post(
        self, role: str = "publisher", headers: dict[str, str] | None = None, **body: Any
    ) -> dict[str, Any]:
        status, data = await self.request(
            "POST", "/api/v1/messages", role=role, json=body, headers=headers
        )
        assert status in (200, 201), (status, data)
        return dict(data)

    async def message(self, message_id: int) -> dict[str, Any]:
        status, data = await self.request("GET", f"/api/v1/messages/{message_id}")
        assert status == 200, data
        return dict(data)

    async def wait_message(
        self, message_id: int, done: Callable[[dict[str, Any]], bool], timeout: float = 15.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            m = await self.message(message_id)
            if done(m):
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"message {message_id} never reached the expected state: {m}")
            await asyncio.sleep(0.05)

    async def wait_state(
        self, message_id: int, *states: str, timeout: float = 15.0
    ) -> dict[str, Any]:
        return await self.wait_message(message_id, lambda m: m["state"] in states, timeout)


async def start_daemon(
    config_path: Path, clock: Clock | None = None, tokens: dict[str, str] | None = None
) -> Harness:
    daemon = Daemon(load_config(config_path, env={**__import__("os").environ}), clock=clock)
    await daemon.start()
    h = Harness(daemon)
    if tokens is None:
        tokens = {}
        for role in Role:
            secret = new_token()
            await daemon.store.create_token(
                f"test-{role.label}", role, token_hash(secret), "test", daemon.clock.now()
            )
            tokens[role.label] = secret
    for secret in tokens.values():  # neither a token nor its hash may reach any log
        secrets_registry.secret(secret)
        secrets_registry.secret(token_hash(secret))
    h.tokens = tokens
    return h


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.05)
