"""systemd's notify protocol (sd_notify): one datagram per state change to $NOTIFY_SOCKET.

Small enough to own rather than depend on an unmaintained package; silent when not run by
systemd (no NOTIFY_SOCKET).
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self.address = None
        if address:
            # "@name" is an abstract socket: a leading NUL byte on the wire.
            self.address = "\0" + address[1:] if address.startswith("@") else address
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str | int) -> None:
        """Send ``KEY=value`` lines, e.g. ``send(READY=1, STATUS="primary up")``."""
        if self.address is None:
            return
        payload = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            if self._sock is None:
                # Non-blocking: a reader that stopped reading must never stall the event loop.
                self._sock = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
                )
            self._sock.sendto(payload, self.address)
        except OSError:
            # systemd gone, socket misconfigured or its queue full: a lost status line is
            # better than a daemon that blocks or dies for it.
            pass

    def watchdog_interval(self) -> float | None:
        """Half of systemd's WatchdogSec for this process, in seconds, if it is on."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        return int(usec) / 2_000_000

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
