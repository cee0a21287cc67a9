"""Static copies of the public page (``[status_page] static_dir``): every page, feed and
Statuspage JSON document written as files, so any web server can serve the page even with
no daemon running. Rendered from the store like the live page, so every host writes the
same files; a file is replaced atomically and only when its bytes change."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from failover.clock import Clock
from failover.config import Config
from failover.statuspage import feeds, html, v2
from failover.statuspage.data import HISTORY_PAGE, StatusData, load
from failover.store.base import Store
from failover.store.status import Incident

log = logging.getLogger("failover.statuspage")

MAX_HISTORY_PAGES = 20  # the static history stops here; the live page goes further


async def render_files(store: Store, config: Config, clock: Clock) -> dict[str, bytes]:
    """Every file of the static copy, by its path relative to the copy's directory; read
    here, rendered in a worker thread (the event loop keeps posting meanwhile)."""
    data = await load(store, config, clock.now())
    limit = MAX_HISTORY_PAGES * HISTORY_PAGE + 1
    past = await store.list_incidents(None, active=False, limit=limit)
    return await asyncio.to_thread(_render_all, data, past)


def _render_all(data: StatusData, past: list[Incident]) -> dict[str, bytes]:
    files = {
        "index.html": html.index_page(data, static=True),
        "feed.atom": feeds.atom(data),
        "feed.json": feeds.json_feed(data),
    }
    for name, doc in v2.DOCUMENTS.items():
        files[f"api/v2/{name}.json"] = v2.dumps(doc(data))
    shown: dict[int, Incident] = {i.id: i for i in (*data.incidents, *data.maintenances, *past)}
    for page in range(1, MAX_HISTORY_PAGES + 1):
        part = past[(page - 1) * HISTORY_PAGE : page * HISTORY_PAGE]
        more = len(past) > page * HISTORY_PAGE and page < MAX_HISTORY_PAGES
        files[html.history_file(page)] = html.history_page(data, part, page, more, static=True)
        if not more:
            break
    for incident in shown.values():
        if not incident.draft:
            files[f"incidents/{incident.id}.html"] = html.incident_page(data, incident, True)
    return files


async def write_copies(store: Store, config: Config, clock: Clock, directory: Path) -> int:
    """Write the copy; return how many files changed."""
    files = await render_files(store, config, clock)
    return await asyncio.to_thread(_write_changed, directory, files)


async def keep_copies(store: Store, config: Callable[[], Config], clock: Clock) -> None:
    """Rewrite the copy every ``static_every`` for as long as the daemon runs (started only
    when ``static_dir`` is set at start; a reload may move or pause it). A directory that
    cannot be written is logged and tried again next time, never fatal."""
    while True:
        cfg = config()
        directory = cfg.status_page.static_dir
        if directory is not None:
            try:
                changed = await write_copies(store, cfg, clock, directory)
                if changed:
                    log.info("status page copy: %d files changed in %s", changed, directory)
            except OSError as exc:
                log.warning("status page copy in %s failed: %s", directory, exc.strerror)
        await clock.sleep(cfg.status_page.static_every)


def _write_changed(directory: Path, files: dict[str, bytes]) -> int:
    changed = 0
    for rel, body in files.items():
        path = directory / rel
        try:
            if path.read_bytes() == body:
                continue
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as fh:
            os.fchmod(fh.fileno(), 0o644)  # public by design, whatever the daemon's umask
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        changed += 1
    return changed
