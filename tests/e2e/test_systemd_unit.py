"""The systemd unit: its hardening score, that systemd accepts it, and that the daemon still
works inside the unit's system-call sandbox.

systemd-analyze needs Debian's ``systemd`` package (.ci/install-system.sh installs it). This
machine (and CI) has no systemd as PID 1, so the daemon cannot be started *by* systemd here;
instead the last test rebuilds the unit's seccomp sandbox with libseccomp (the library systemd
itself uses) straight from the unit file -- SystemCallFilter= (allow list, EPERM),
SystemCallArchitectures=native, MemoryDenyWriteExecute= (systemd's own rules: no W+X mmap,
no PROT_EXEC mprotect, no SHM_EXEC shmat), RestrictAddressFamilies= (EAFNOSUPPORT),
NoNewPrivileges= and UMask= -- and runs the real daemon under it with systemd's environment
(NOTIFY_SOCKET, WATCHDOG_USEC, STATE_DIRECTORY, CREDENTIALS_DIRECTORY): it must get READY,
send watchdog pings, deliver, reload, trace and stop cleanly. The namespace settings
(ProtectSystem=, PrivateUsers=, ...) are not rebuilt: the daemon writes only under its state
directory, which they leave writable.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests import system_tools
from tests.peers.webhook_receiver import WebhookReceiver
from tests.secrets_registry import log_file, secret

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "failover.service"
HOOK_SECRET = secret("unit-sandbox-hook-secret-93c1d7")


@pytest.fixture(scope="module")
def analyze() -> str:
    return system_tools.which(
        "systemd-analyze", "apt-get install systemd (or bash .ci/install-system.sh)"
    )


def service_settings() -> dict[str, list[str]]:
    """The unit's [Service] settings, each key with its values in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


# -- what systemd-analyze says ------------------------------------------------------------------


def test_exposure_is_at_most_1_5(analyze: str) -> None:
    out = subprocess.run(
        [analyze, "security", "--offline=true", str(UNIT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for failover\.service: ([0-9.]+)", out.stdout)
    assert match, out.stdout[-2000:] + out.stderr
    assert float(match.group(1)) <= 1.5, out.stdout


def test_systemd_verifies_the_unit(analyze: str, tmp_path: Path) -> None:
    # verify insists that ExecStart's binary exists: point it at this checkout's entry point.
    failover = Path(sys.executable).with_name("failover")
    assert failover.exists(), "pip install -e . first"
    unit = tmp_path / "failover.service"
    unit.write_text(UNIT.read_text().replace("/opt/failover/bin/failover", str(failover)))
    out = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "failover.service" not in out.stderr, out.stderr  # no warnings about the unit


def test_unit_has_what_the_daemon_relies_on() -> None:
    s = service_settings()
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert s["ExecStart"] == ["/opt/failover/bin/failover run -c /etc/failover/config.toml"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"]
    assert s["StateDirectory"] == ["failover"] and s["ConfigurationDirectory"] == ["failover"]
    assert s["LoadCredential"], "secrets come in as credentials"
    # The daemon pings every min(WatchdogSec/2, 5s); stopping waits for shutdown_grace (10s).
    assert s["WatchdogSec"] == ["30s"]
    assert float(s["TimeoutStopSec"][0].removesuffix("s")) > 10


# -- the daemon inside the unit's sandbox -------------------------------------------------------

PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ = 4, 7
FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10}
AF_MAX = 46


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def _expand(analyze: str, names: list[str]) -> set[str]:
    """System calls of systemd's named sets (``@system-service``), nested sets included."""
    found: set[str] = set()
    todo = list(names)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if not name.startswith("@"):
            found.add(name)
            continue
        out = subprocess.run(
            [analyze, "syscall-filter", name], capture_output=True, text=True, check=True
        )
        for line in out.stdout.splitlines()[1:]:
            item = line.strip()
            if item and not item.startswith("#"):
                todo.append(item)
    return found


def sandbox_plan(analyze: str) -> dict[str, object]:
    """The unit's seccomp-level settings, as data for ``exec_in_sandbox``."""
    s = service_settings()
    allowed: set[str] = set()
    for value in s["SystemCallFilter"]:
        names = value.removeprefix("~").split()
        if value.startswith("~"):
            allowed -= _expand(analyze, names)
        else:
            allowed |= _expand(analyze, names)
    families = [FAMILIES[f] for value in s["RestrictAddressFamilies"] for f in value.split()]
    assert s["SystemCallArchitectures"] == ["native"] and s["NoNewPrivileges"] == ["yes"]
    return {
        "allowed": sorted(allowed),
        "errno": {"EPERM": 1}[s["SystemCallErrorNumber"][0]],
        "mdwe": s["MemoryDenyWriteExecute"] == ["yes"],
        "families": families,
        "umask": int(s["UMask"][0], 8),
    }


def exec_in_sandbox() -> None:
    """Entry point of the sandbox launcher: load the filters, then exec ``argv[1:]``.

    Run as ``python -c 'from tests.e2e.test_systemd_unit import exec_in_sandbox;
    exec_in_sandbox()' PROGRAM ARGS...`` with the plan in $SANDBOX_PLAN.
    """
    plan = json.loads(os.environ.pop("SANDBOX_PLAN"))
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)
    ]  # fmt: skip
    lib.seccomp_load.argtypes = [ctypes.c_void_p]

    def rule(ctx: int, action: int, name: str, *cmps: tuple[int, int, int, int]) -> bool:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:  # not a system call on this architecture
            return False
        arr = (_ArgCmp * max(len(cmps), 1))(*[_ArgCmp(*c) for c in cmps])
        return int(lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)) == 0

    def load(ctx: int) -> None:
        if lib.seccomp_load(ctx) != 0:
            raise OSError(ctypes.get_errno(), "seccomp_load failed")

    # 1. SystemCallFilter=: only the allowed calls; the rest fail with SystemCallErrorNumber=.
    allow = lib.seccomp_init(_errno_action(plan["errno"]))
    added = sum(rule(allow, SCMP_ACT_ALLOW, name) for name in plan["allowed"])
    assert added > 200, added
    # 2. RestrictAddressFamilies=, as systemd does it: socket() of another family fails.
    deny = lib.seccomp_init(SCMP_ACT_ALLOW)
    for family in range(AF_MAX):
        if family not in plan["families"]:
            rule(deny, _errno_action(97), "socket", (0, SCMP_CMP_EQ, family, 0))  # EAFNOSUPPORT
    # 3. MemoryDenyWriteExecute=: systemd's seccomp rules.
    if plan["mdwe"]:
        wx = PROT_WRITE | PROT_EXEC
        rule(deny, _errno_action(1), "mmap", (2, SCMP_CMP_MASKED_EQ, wx, wx))
        rule(deny, _errno_action(1), "mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        rule(deny, _errno_action(1), "pkey_mprotect", (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
        rule(deny, _errno_action(1), "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
    load(deny)  # libseccomp sets no_new_privs first (NoNewPrivileges=yes)
    load(allow)
    os.umask(plan["umask"])
    os.execv(sys.argv[1], sys.argv[1:])


def sandboxed(analyze: str, argv: list[str], env: dict[str, str]) -> list[str]:
    """The command line that runs ``argv`` inside the unit's seccomp sandbox."""
    env["SANDBOX_PLAN"] = json.dumps(sandbox_plan(analyze))
    env["PYTHONPATH"] = str(ROOT)
    launcher = "from tests.e2e.test_systemd_unit import exec_in_sandbox; exec_in_sandbox()"
    return [sys.executable, "-c", launcher, *argv]


PROBE = """
import mmap, socket, ssl
from channels.registry import BUILTIN, adapter_class
# Every adapter's library loads (cffi's ffi.callback, which needs W+X memory, would fail here).
import importlib.util
for name, target in BUILTIN.items():
    if importlib.util.find_spec(target.partition(":")[0]):  # adapters still being written
        adapter_class(name)
import mastodon, atproto, slack_sdk.web.async_client, aiosmtplib, apprise, psycopg
import opentelemetry.exporter.otlp.proto.http.trace_exporter
ssl.create_default_context()
def refused(f):
    try:
        f()
    except OSError as exc:
        return exc.errno
    return 0
print(refused(lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)),
      refused(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)),
      refused(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW)),
      refused(lambda: socket.sethostname("nope")),
      refused(lambda: socket.socket(socket.AF_INET6).close()),
      refused(lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE).close()))
"""


def test_the_sandbox_rebuilt_from_the_unit_bites(analyze: str) -> None:
    """Without this the next test could pass on a sandbox that forbids nothing."""
    env = dict(os.environ)
    cmd = sandboxed(analyze, [sys.executable, "-c", PROBE], env)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0, out.stderr
    # EACCES/EPERM for W+X memory, EAFNOSUPPORT for netlink and packet sockets, EPERM for
    # sethostname (@privileged, not in @system-service); ordinary sockets and memory work.
    wx, netlink, packet, hostname, inet6, rw = map(int, out.stdout.split())
    assert wx in (1, 13) and netlink == 97 and packet == 97 and hostname == 1
    assert inet6 == 0 and rw == 0


class _NotifySocket:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[dict[str, str]] = []

    async def wait_for(self, key: str, value: str, after: int = 0, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while True:
                try:
                    data = self.sock.recv(4096).decode()
                except BlockingIOError:
                    break
                self.messages.append(
                    dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
                )
            for i, m in enumerate(self.messages[after:], after):
                if m.get(key) == value:
                    return i
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {key}={value}; got {self.messages}")


@pytest.mark.slow
async def test_daemon_runs_inside_the_units_sandbox(analyze: str, tmp_path: Path) -> None:
    state, creds, conf = tmp_path / "state", tmp_path / "credentials", tmp_path / "etc"
    for d in (state, creds, conf):
        d.mkdir(mode=0o700)
    # As LoadCredential=failover:/etc/failover/credentials hands over the file "hook-secret".
    (creds / "failover_hook-secret").write_text(HOOK_SECRET + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    notify = _NotifySocket(tmp_path / "notify.sock")
    async with WebhookReceiver(secret=HOOK_SECRET) as receiver:
        config = conf / "config.toml"
        config.write_text(
            f"""
            [api]
            listen = "127.0.0.1:{port}"

            [tracing]
            enabled = true
            exporter = "console"

            [channels.hook]
            type = "webhook"
            url = "{receiver.server.url}/hook"
            secret = "credential:failover_hook-secret"

            [channels.status]
            type = "feed"

            [routes.default]
            tiers = [["hook"], ["status"]]
            """.replace("\n            ", "\n")
        )
        env = {
            **os.environ,
            "STATE_DIRECTORY": str(state),
            "CREDENTIALS_DIRECTORY": str(creds),
            "FAILOVER_LOG_FORMAT": "json",
        }
        create = [sys.executable, "-m", "failover", "token", "create", "--role", "admin",
                  "--name", "sandbox", "-c", str(config), "--json"]  # fmt: skip
        made = subprocess.run(
            sandboxed(analyze, create, env), env=env, capture_output=True, text=True, check=True
        )
        token = json.loads(made.stdout)["token"]
        env |= {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"}
        daemon_argv = [sys.executable, "-m", "failover", "run", "-c", str(config)]
        log_path = log_file(f"daemon-sandbox-{tmp_path.name}.log")
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                sandboxed(analyze, daemon_argv, env), env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            ready = await notify.wait_for("READY", "1")
            status = Path(f"/proc/{proc.pid}/status").read_text()
            assert "\nSeccomp:\t2\n" in status and "\nNoNewPrivs:\t1\n" in status, status
            ping = await notify.wait_for("WATCHDOG", "1", after=ready)
            await notify.wait_for("WATCHDOG", "1", after=ping + 1)
            url = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                async with http.post(url + "/api/v1/messages", json={"text": "sandboxed"}) as r:
                    assert r.status == 201, await r.text()
                for _ in range(400):
                    if receiver.delivered():
                        break
                    await asyncio.sleep(0.05)
                assert [d.body.get("text") for d in receiver.delivered()] == ["sandboxed"]
                async with http.get(url + "/metrics") as r:
                    metrics = await r.text()
                assert (
                    'failover_deliveries_total{channel="hook",outcome="delivered"} 1.0' in metrics
                )
            n = len(notify.messages)
            proc.send_signal(signal.SIGHUP)
            reloading = await notify.wait_for("RELOADING", "1", after=n)
            await notify.wait_for("READY", "1", after=reloading)
            n = len(notify.messages)
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(proc.wait, 30) == 0, log_path.read_text()[-3000:]
            await notify.wait_for("STOPPING", "1", after=n)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = log_path.read_text()
    assert "Operation not permitted" not in output and "PermissionError" not in output, output
    # The console exporter printed the spans: OpenTelemetry's export thread ran too.
    assert '"name": "channel.send"' in output, output[-3000:]
    # UMask=0077: nothing the daemon created is readable by others.
    for path in state.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
