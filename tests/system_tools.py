"""Tests that need a program outside Python (Chromium, promtool, the reference PDS, a PostgreSQL
server, ...) ask for it here.

Where it is missing the test skips with one message naming the tool and the command that
installs it, and the end of the run lists every such tool once. With ``CI=true`` the run fails
instead of passing with skips, so CI still proves the whole suite. The hooks below are a pytest
plugin, registered by ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

PREFIX = "needs a system tool: "
INSTALL_ALL = "bash .ci/install-system.sh"


def missing(tool: str, install: str) -> NoReturn:
    """Skip the calling test: ``tool`` is not on this machine; ``install`` gets it."""
    pytest.skip(f"{PREFIX}{tool} — install it with: {install}")


def which(program: str, install: str) -> str:
    """The path of ``program``, or skip the calling test saying how to install it."""
    path = shutil.which(program)
    if path is None:
        missing(program, install)
    return path


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


class MissingTools:
    """Collects the tool skips of a run; reports them, and fails the run under CI."""

    def __init__(self) -> None:
        self.tools: dict[str, int] = {}  # "tool — install it with: ..." -> tests skipped

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            if reason.startswith(PREFIX):
                what = reason.removeprefix(PREFIX)
                self.tools[what] = self.tools.get(what, 0) + 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.tools and _in_ci() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.tools:
            return
        tr = terminalreporter
        verdict = "CI=true: these skips FAIL the run" if _in_ci() else "skipped, not failed"
        tr.write_sep("=", f"system tools missing on this machine ({verdict})", yellow=True)
        for what, count in sorted(self.tools.items()):
            tr.write_line(f"  {what}  ({count} test{'s' if count != 1 else ''})")
        tr.write_line(
            f"  everything at once: {INSTALL_ALL} (as root), then bash .ci/install-pds.sh"
        )


def pytest_configure(config: pytest.Config) -> None:
    """Registers the collector once (from tests/conftest.py, or ``-p tests.system_tools``)."""
    if not config.pluginmanager.has_plugin("missing-tools"):
        config.pluginmanager.register(MissingTools(), "missing-tools")
