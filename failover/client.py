"""A small client for the daemon's REST API, used by the CLI (works from any host)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import aiohttp


class ApiError(Exception):
    """The daemon answered with a problem, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, title: str, detail: str = "", field: str | None = None) -> None:
        super().__init__(f"{title}: {detail}" if detail else title)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field


@dataclass
class Client:
    url: str
    token: str | None
    timeout: float = 30.0

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        hdrs = dict(headers or {})
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        url = self.url.rstrip("/") + path
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session,
                session.request(method, url, json=body, headers=hdrs, params=params) as resp,
            ):
                text = await resp.text()
                data = json.loads(text) if text else {}
                if resp.status >= 400:
                    raise ApiError(
                        resp.status,
                        data.get("title", resp.reason or "error"),
                        data.get("detail", ""),
                        data.get("field"),
                    )
                return data if isinstance(data, dict) else {"items": data}
        except aiohttp.ClientConnectionError as exc:
            raise ApiError(0, "daemon unreachable", self._unreachable(_why(exc))) from None
        except TimeoutError:
            raise ApiError(
                0, "daemon unreachable", self._unreachable(f"no answer within {self.timeout:g} s")
            ) from None
        except json.JSONDecodeError:
            raise ApiError(
                502,
                "not failover's API",
                f"{self.url} answered, but not as failover's API does: is --url/FAILOVER_URL "
                "the daemon's address?",
            ) from None

    async def text(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "text/plain"
    ) -> str:
        """A request whose body or answer is not JSON (a CSV export or import)."""
        hdrs = {"Content-Type": content_type}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        url = self.url.rstrip("/") + path
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session,
                session.request(method, url, data=body, headers=hdrs) as resp,
            ):
                text = await resp.text()
                if resp.status >= 400:
                    try:
                        data = json.loads(text)
                    except json.JSONDecodeError:
                        data = {}
                    raise ApiError(
                        resp.status, data.get("title", resp.reason or "error"),
                        data.get("detail", ""), data.get("field"),
                    )  # fmt: skip
                return text
        except aiohttp.ClientConnectionError as exc:
            raise ApiError(0, "daemon unreachable", self._unreachable(_why(exc))) from None
        except TimeoutError:
            raise ApiError(
                0, "daemon unreachable", self._unreachable(f"no answer within {self.timeout:g} s")
            ) from None

    def _unreachable(self, why: str) -> str:
        return (
            f"cannot reach the daemon at {self.url} ({why}) — is `failover run` running there? "
            "(--url or FAILOVER_URL)"
        )


def _why(exc: aiohttp.ClientConnectionError) -> str:
    """A few words a person recognises: "connection refused", "host not found"."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "host not found"
    if isinstance(exc, aiohttp.ClientConnectorError) and exc.os_error.errno:
        return os.strerror(exc.os_error.errno).lower()  # asyncio's own text names the address
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "it closed the connection without answering"
    return str(exc) or type(exc).__name__
