"""``failover check-config`` as an admin meets it: every mistake in one run, in file order, in
plain words; JSON whenever --json is given; warnings (exit 0) for channels that only lack their
secrets; and a last line that says what the exit code means."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from failover.cli import main

THREE_MISTAKES = """\
state_dir = "{state}"

[api]
public_url = "ftp://status.example.com"

[channels.hook]
type = "webhook"
url = "example.com/hook"
concurrency = "many"

[channels.status]
type = "feed"
titel = "typo"

[routes.default]
tiers = [["hook"], ["status"]]
"""

ONLY_SECRETS = """\
[channels.hook]
type = "webhook"
url = "https://hooks.example.com/in"
secret = "${HOOK_SECRET_NOT_SET_7a1}"

[channels.status]
type = "feed"

[channels.ops]
type = "feed"

[routes.default]
tiers = [["hook"], ["status"]]

[alerts]
channels = ["ops"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "failover.toml"
    path.write_text(text)
    return path


def test_every_error_at_once_in_file_order_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("")
    path = write(tmp_path, THREE_MISTAKES.format(state="a-file/state"))
    assert main(["check-config", "-c", str(path)]) == 78
    out, err = capsys.readouterr()
    lines = [line.strip() for line in err.splitlines()[1:]]
    assert lines == [
        f"state_dir (line 1): {tmp_path}/a-file/state cannot be created: {tmp_path}/a-file is a "
        "file, not a directory",
        "api.public_url (line 4): expected a web address starting with https:// or http:// "
        '(it starts with "ftp:")',
        "channels.hook.url (line 8): expected a web address starting with https:// or http:// "
        "(it has none)",
        "channels.hook.concurrency (line 9): expected a whole number, e.g. 3",
        "channels.status.titel (line 13): unknown key (check the spelling; see config.example.toml)",
    ]
    assert "Input should" not in err
    assert err.splitlines()[0] == f"config {path}: 5 errors, in file order:"
    assert out.strip() == "exit code 78: the config has errors; fix them before running the daemon"


def test_json_is_always_json_with_key_line_and_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, THREE_MISTAKES.format(state="state"))
    assert main(["check-config", "-c", str(path), "--json"]) == 78
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False and data["config"] is None
    assert data["errors"][0] == {
        "key": "api.public_url",
        "line": 4,
        "message": 'expected a web address starting with https:// or http:// (it starts with "ftp:")',
    }
    assert [e["line"] for e in data["errors"]] == [4, 8, 9, 13]
    # Not even TOML, or no file at all: still JSON.
    write(tmp_path, "[channels.x\n")
    assert main(["check-config", "-c", str(path), "--json"]) == 78
    [error] = json.loads(capsys.readouterr().out)["errors"]
    assert error["line"] == 1 and error["message"].startswith("not valid TOML")
    assert main(["check-config", "-c", str(tmp_path / "nope.toml"), "--json"]) == 78
    [error] = json.loads(capsys.readouterr().out)["errors"]
    assert error["message"] == "cannot read config file: No such file or directory"


def test_only_missing_secrets_is_valid_with_a_warning_and_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, ONLY_SECRETS)
    assert main(["check-config", "-c", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err.strip() == (
        "warning: channels.hook: not connected: 1 secret missing (HOOK_SECRET_NOT_SET_7a1); "
        "routes skip it until they are set"
    )
    assert "error" not in err
    assert out.splitlines()[0] == f"config {path}: valid"
    assert out.splitlines()[-1] == (
        "valid, with 1 warning (see above). exit code 0: the daemon will start with this file "
        "(errors exit 78; warnings never change the exit code)"
    )
    assert main(["check-config", "-c", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is True and data["errors"] == []
    assert data["warnings"][0]["key"] == "channels.hook"
    assert data["config"]["channels"]["hook"]["available"] is False


def test_a_closed_pipe_is_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, ONLY_SECRETS)
    cli = [sys.executable, "-m", "failover", "check-config", "-c", str(path), "--json"]
    proc = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first byte (`| head` that exited)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
