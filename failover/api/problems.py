"""RFC 9457 problem details for every error the API returns, naming the field at fault."""

from __future__ import annotations

import codecs
import json
import logging
from typing import Any

from aiohttp import web

from failover.errors import Conflict, InvalidInput, NotFound, StoreError

log = logging.getLogger("failover.api")

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'Bearer realm="failover"'} if status == 401 else None
    return web.Response(
        status=status, text=json.dumps(body), content_type=PROBLEM_TYPE, headers=headers
    )


def invalid(field: str, detail: str) -> web.Response:
    return problem(
        422,
        "Invalid request",
        f"{field}: {detail}",
        field=field,
        errors=[{"field": field, "detail": detail}],
    )


def _unreadable(request: web.Request) -> web.Response | None:
    """A 400 for what no handler can read: a NUL in the URL (no store takes one), a body
    in a charset nobody knows."""
    if "\x00" in request.path or any("\x00" in k + v for k, v in request.query.items()):
        return problem(400, "Bad request", "the URL contains a NUL character")
    charset = request.charset
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            return problem(415, "Unsupported charset", f"unknown charset {charset[:40]!r}")
    return None


@web.middleware
async def problem_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if (refused := _unreadable(request)) is not None:
        return refused
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except UnicodeDecodeError as exc:
        return problem(400, "Bad request", f"the body is not valid {exc.encoding} text")
    except InvalidInput as exc:
        return invalid(exc.field, exc.detail)
    except NotFound as exc:
        return problem(404, "Not found", str(exc))
    except Conflict as exc:
        return problem(409, "Conflict", str(exc))
    except StoreError as exc:
        log.error("store error: %s", exc)
        return problem(503, "Store unavailable", "the store cannot be reached; try again")
    except web.HTTPRequestEntityTooLarge as exc:
        return problem(413, "Request too large", exc.text)
    except web.HTTPException as exc:
        if (
            exc.status >= 400
            and exc.content_type != PROBLEM_TYPE
            and request.path.startswith("/api/")
        ):
            return problem(exc.status, exc.reason)
        raise
