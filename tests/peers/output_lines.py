"""A child process's output, line by line, with timeouts.

Read on a thread: ``select()`` on the pipe followed by a buffered ``readline()`` misses lines
that arrived together, since ``readline()`` pulls them all into Python's buffer and the pipe
then looks empty (a test waited for a line the daemon had already written).
"""

from __future__ import annotations

import queue
import threading
from typing import IO


class OutputLines:
    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")  # end of output

    def next(self, timeout: float) -> str | None:
        """The next line ("" once the output has ended), or None if none came in time."""
        try:
            return self._lines.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
