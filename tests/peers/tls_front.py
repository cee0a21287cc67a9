"""A front for the daemon, as a reverse proxy or load balancer would be: https from a test
CA (trustme) for ``localhost`` (or plain, ``tls=False``), bytes passed through to the daemon's
plain-http port unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from types import TracebackType

import trustme


class TlsFront:
    def __init__(
        self,
        port: int,
        target_port: int,
        directory: Path,
        *,
        tls: bool = True,
        ca: trustme.CA | None = None,
    ) -> None:
        self.tls = tls
        self.port = port
        self.target_port = target_port
        self.ca = ca or trustme.CA()
        self.ca_file = directory / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    async def __aenter__(self) -> TlsFront:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH) if self.tls else None
        if ctx is not None:
            self.ca.issue_cert("localhost").configure_cert(ctx)
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, ssl=ctx)
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(_pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            dst.close()
