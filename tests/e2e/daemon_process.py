"""The daemon as a real subprocess (``python -m failover run``), for kill and restart tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests import secrets_registry


class DaemonProcess:
    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = {**os.environ, "FAILOVER_LOG_FORMAT": "json", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = secrets_registry.log_file(f"daemon-{config.parent.name}-{id(self)}.log")

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "failover", "run", "-c", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )

    async def wait_ready(self, url: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"daemon exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}"
                    )
                try:
                    async with s.get(url + "/readyz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("daemon never became ready")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def freeze(self) -> None:
        """SIGSTOP: the extreme of CPU starvation, a live daemon that does not run at all."""
        self.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.signal(signal.SIGCONT)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
