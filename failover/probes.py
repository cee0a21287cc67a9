"""Active health probes: an HTTP endpoint, an Atlassian Statuspage, the adapter's own check.

Each probe turns what it saw into an ``Observation`` for the health machine; a probe never
raises. A status page lags real outages and can itself be down, so its failure to answer is
*not* counted against the channel — only what it says is.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from channels.base import Channel, ChannelError, PermanentError
from failover.config import ProbeConfig
from failover.health.machine import Observation

STATUSPAGE_DOWN = {"major", "critical", "major_outage"}
STATUSPAGE_DEGRADED = {"minor", "degraded_performance", "partial_outage", "under_maintenance"}


async def run_probe(
    probe: ProbeConfig, session: aiohttp.ClientSession, adapter: Channel | None
) -> Observation | None:
    """One probe round; None when the probe could not tell anything (e.g. status page down)."""
    if probe.kind == "http":
        return await http_probe(probe, session)
    if probe.kind == "statuspage":
        return await statuspage_probe(probe, session)
    return await adapter_probe(adapter, probe.timeout)


async def http_probe(probe: ProbeConfig, session: aiohttp.ClientSession) -> Observation:
    assert probe.url is not None
    try:
        async with (
            asyncio.timeout(probe.timeout),
            session.get(probe.url, allow_redirects=False) as resp,
        ):
            body = await resp.text(errors="replace") if probe.body_contains else ""
    except TimeoutError:
        return Observation(False, "probe:http", f"no answer within {probe.timeout:g}s")
    except aiohttp.ClientError as exc:
        return Observation(False, "probe:http", _client_error(exc))
    if resp.status != probe.expect_status:
        return Observation(
            False, "probe:http", f"HTTP {resp.status}, expected {probe.expect_status}"
        )
    if probe.body_contains and probe.body_contains not in body:
        return Observation(False, "probe:http", f"body lacks {probe.body_contains!r}")
    return Observation(True, "probe:http", f"HTTP {resp.status}")


async def statuspage_probe(
    probe: ProbeConfig, session: aiohttp.ClientSession
) -> Observation | None:
    assert probe.url is not None
    url = probe.url.rstrip("/")
    if not url.endswith(".json"):
        url += "/api/v2/summary.json" if probe.component else "/api/v2/status.json"
    try:
        async with asyncio.timeout(probe.timeout), session.get(url) as resp:
            if resp.status != 200:
                return None
            data: dict[str, Any] = json.loads(await resp.text())
    except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError, UnicodeDecodeError):
        return None  # the status page itself is down or broken: no signal either way
    if probe.component:
        wanted = probe.component.lower()
        for comp in data.get("components", []):
            if wanted in (str(comp.get("name", "")).lower(), str(comp.get("id", "")).lower()):
                return _judge(
                    str(comp.get("status", "")), f"{comp.get('name')}: {comp.get('status')}"
                )
        return None
    status = data.get("status", {})
    return _judge(str(status.get("indicator", "")), str(status.get("description", "")))


def _judge(value: str, detail: str) -> Observation | None:
    if value in STATUSPAGE_DOWN:
        return Observation(False, "probe:statuspage", f"status page: {detail}")
    if value in STATUSPAGE_DEGRADED:
        return Observation(True, "probe:statuspage", f"status page: {detail}", degraded=True)
    if value in ("none", "operational"):
        return Observation(True, "probe:statuspage", f"status page: {detail}")
    return None


async def adapter_probe(adapter: Channel | None, limit: float) -> Observation:
    if adapter is None:
        return Observation(False, "probe:adapter", "adapter unavailable", fatal=True)
    try:
        async with asyncio.timeout(limit):
            result = await adapter.check()
    except TimeoutError:
        return Observation(False, "probe:adapter", f"check timed out after {limit:g}s")
    except PermanentError as exc:
        return Observation(False, "probe:adapter", exc.reason, fatal=exc.credentials)
    except ChannelError as exc:
        return Observation(False, "probe:adapter", exc.reason)
    except Exception as exc:
        return Observation(False, "probe:adapter", f"check crashed: {type(exc).__name__}")
    return Observation(
        result.ok,
        "probe:adapter",
        result.detail,
        fatal=not result.ok and result.credentials,
        degraded=result.degraded,
    )


def _client_error(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    return type(exc).__name__
