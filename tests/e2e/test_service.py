"""The daemon as systemd sees it: sd_notify over a real datagram socket, SIGHUP, SIGTERM, logs,
metrics — all against a real subprocess."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.daemon_process import DaemonProcess
from tests.harness import free_port, write_config
from tests.peers.webhook_receiver import WebhookReceiver
from tests.secrets_registry import secret

pytestmark = pytest.mark.slow

HOOK_SECRET = secret("sd-hook-secret-5e1f9a")


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[dict[str, str]] = []

    def drain(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return self.messages
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append(fields)

    async def wait_for(
        self, key: str, value: str | None = None, timeout: float = 15.0, after: int = 0
    ) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, m in enumerate(self.drain()[after:], after):
                if key in m and (value is None or m[key] == value):
                    return i
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {key}={value} from the daemon; got {self.messages}")


def config_text(receiver: WebhookReceiver) -> str:
    return f"""
    [channels.hook]
    type = "webhook"
    url = "{receiver.server.url}/hook"
    secret = "${{SD_HOOK_SECRET}}"

    [channels.status]
    type = "feed"

    [routes.default]
    tiers = [["hook"], ["status"]]
    """


def token(config: Path, role: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "failover",
            "token",
            "create",
            "--role",
            role,
            "--name",
            f"sd-{role}",
            "-c",
            str(config),
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(out.stdout)["token"])


async def test_notify_protocol_reload_and_stop(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    async with WebhookReceiver(secret=HOOK_SECRET) as receiver:
        port = free_port()
        config = write_config(tmp_path, config_text(receiver), port=port)
        url = f"http://127.0.0.1:{port}"
        admin = token(config, "admin")
        daemon = DaemonProcess(
            config,
            env={
                "NOTIFY_SOCKET": str(notify.path),
                "WATCHDOG_USEC": "1000000",
                "SD_HOOK_SECRET": HOOK_SECRET,
            },
        )
        daemon.start()
        ready = await notify.wait_for("READY", "1")
        status = notify.messages[ready]["STATUS"]
        assert status.startswith("primary hook ") and "queue 0 pending" in status, status
        # The API listens by the time READY=1 is sent.
        async with aiohttp.ClientSession() as s, s.get(url + "/readyz") as r:
            assert r.status == 200
        # Watchdog pings keep coming from the event loop (every half WATCHDOG_USEC).
        first_ping = await notify.wait_for("WATCHDOG", "1", after=ready)
        await notify.wait_for("WATCHDOG", "1", after=first_ping + 1)

        # Messages flow, and the metrics move.
        headers = {"Authorization": f"Bearer {admin}"}
        async with aiohttp.ClientSession(headers=headers) as s:
            async with s.get(url + "/metrics") as r:
                before = await r.text()
            for i in range(3):
                async with s.post(url + "/api/v1/messages", json={"text": f"metrics {i}"}) as r:
                    assert r.status == 201
            for _ in range(200):
                if len(receiver.received) == 3:
                    break
                await asyncio.sleep(0.05)
            async with s.get(url + "/metrics") as r:
                after = await r.text()
        assert 'failover_deliveries_total{channel="hook",outcome="delivered"} 3.0' in after
        assert 'failover_deliveries_total{channel="hook"' not in before
        assert 'failover_messages_accepted_total{route="default"} 3.0' in after
        assert 'failover_channel_state{channel="hook",state="up"}' in after
        assert "failover_attempt_duration_seconds_bucket" in after

        # SIGHUP with a good config: RELOADING=1 then READY=1.
        n = len(notify.drain())
        config.write_text(
            config.read_text().replace(
                'tiers = [["hook"], ["status"]]', 'tiers = [["status"], ["hook"]]'
            )
        )
        daemon.signal(signal.SIGHUP)
        i = await notify.wait_for("RELOADING", "1", after=n)
        await notify.wait_for("READY", "1", after=i)

        # SIGHUP with a broken config: refused, old config kept, still serving.
        n = len(notify.drain())
        good = config.read_text()
        config.write_text(good + '\n[channels.broken]\ntype = "carrier-pigeon"\n')
        daemon.signal(signal.SIGHUP)
        i = await notify.wait_for("RELOADING", "1", after=n)
        j = await notify.wait_for("READY", "1", after=i)
        assert "reload refused" in notify.messages[j].get("STATUS", "")
        async with aiohttp.ClientSession() as s, s.get(url + "/readyz") as r:
            assert r.status == 200

        # SIGTERM: STOPPING=1 and a clean exit.
        n = len(notify.drain())
        assert daemon.terminate() == 0
        await notify.wait_for("STOPPING", "1", after=n)
    log = daemon.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, "the daemon should log JSON lines when asked"
    events = {line.get("event") for line in lines}
    assert {
        "daemon.started",
        "delivery.delivered",
        "config.reloaded",
        "config.reload_refused",
    } <= events
    refused = next(line for line in lines if line.get("event") == "config.reload_refused")
    assert "carrier-pigeon" in refused["message"]


async def test_check_config_and_missing_secret_exit_codes(tmp_path: Path) -> None:
    async with WebhookReceiver() as receiver:
        config = write_config(tmp_path, config_text(receiver))
        env = {"PATH": "/usr/bin:/bin"}
        run = lambda extra: subprocess.run(  # noqa: E731
            [sys.executable, "-m", "failover", "check-config", "-c", str(config)],
            capture_output=True,
            text=True,
            check=False,
            env={**env, **extra},
        )
        missing = run({})  # valid: a channel lacking its secret is a warning, not a failure
        assert missing.returncode == 0
        assert "warning: channels.hook: not connected: 1 secret missing (SD_HOOK_SECRET)" in (
            missing.stderr
        )
        ok = run({"SD_HOOK_SECRET": HOOK_SECRET})
        assert ok.returncode == 0, ok.stderr
        assert HOOK_SECRET not in ok.stdout and "hook" in ok.stdout
        config.write_text(config.read_text() + '\n[routes.broken]\ntiers = [["nowhere"]]\n')
        bad = run({"SD_HOOK_SECRET": HOOK_SECRET})
        assert bad.returncode == 78
        assert "routes.broken.tiers" in bad.stderr and "unknown channel 'nowhere'" in bad.stderr
