"""HTTP plumbing the adapters share: a failed request as the core's errors, the wait a 429
asks for, a short excerpt of an answer's body for an error message, and a health check's
verdict on one authenticated call.

Written once so that every adapter says the same thing about the same failure: a refused
connection never reached the platform; a timeout or a dropped connection during a write may
have (``maybe_delivered``), so the next attempt reconciles instead of posting twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp

from channels.base import CheckResult, PermanentError, RateLimitedError, TransientError

EXCERPT = 160  # characters of a body quoted in an error: enough to read, never a page
_SECONDS = re.compile(r"\d+(\.\d+)?")
T = TypeVar("T")


@contextmanager
def network_errors(service: str, *, write: bool) -> Iterator[None]:
    """Raise a request's connection failure as ``TransientError`` naming ``service``.

    ``write``: the request changes something remotely, so a timeout or a dropped connection
    leaves it unknown whether it did."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:
        raise TransientError(f"cannot connect to {service}: {exc.os_error or exc}") from exc
    except TimeoutError as exc:
        raise TransientError(f"no answer in time from {service}", maybe_delivered=write) from exc
    except aiohttp.ClientError as exc:
        raise TransientError(
            f"connection to {service} lost: {type(exc).__name__}", maybe_delivered=write
        ) from exc


def retry_after(headers: Mapping[str, Any] | None, default: float) -> float:
    """The seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), else
    ``default``. Header names are matched in any case; a list value counts by its first."""
    raw: Any = None
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            break
    if raw is None:
        return default
    text = str(raw).strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return default


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """A body on one line, cut at ``limit`` characters, for an error message."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty body)"
    return flat[:limit] + "…" if len(flat) > limit else flat


def _names_credentials(exc: PermanentError) -> bool:
    return exc.credentials


async def check_credentials(
    call: Awaitable[T],
    describe: Callable[[T], str],
    *,
    refused: Callable[[PermanentError], bool] = _names_credentials,
) -> CheckResult:
    """A health check made of one authenticated call, judged the same way for every platform:
    a rate limit still means the credentials were accepted; a permanent error is a credentials
    problem when ``refused`` says so (by default, when the error itself says so), else the
    channel is broken; a transient error means the platform cannot be reached. On success
    ``describe`` says who we are there."""
    try:
        got = await call
    except RateLimitedError:
        return CheckResult(ok=True, detail="credentials accepted (rate limited)")
    except PermanentError as exc:
        return CheckResult(ok=False, detail=exc.reason, credentials=refused(exc))
    except TransientError as exc:
        return CheckResult(ok=False, detail=exc.reason)
    return CheckResult(ok=True, detail=describe(got))
