"""check-config's incident warnings: an unreachable {feed_url}, and alerts nobody receives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from failover.config import parse_config
from failover.config_warnings import incident_warnings

ROUTE = """
[channels.status]
type = "feed"

[channels.ops]
type = "webhook"
url = "http://127.0.0.1:9/hook"

[routes.default]
tiers = [["status"]]

[routes.default.announce]
down = "Trouble; updates at {feed_url}"
up = "Back."
"""


def test_feed_url_without_public_url_is_a_warning() -> None:
    config = parse_config(ROUTE + '\n[alerts]\nchannels = ["ops"]\n', env={})
    assert incident_warnings(config) == [
        "routes.default.announce.down uses {feed_url} but api.public_url is not set: customers "
        "would be sent to http://127.0.0.1:8080/status/, which they cannot reach"
    ]
    with_url = '[api]\npublic_url = "https://status.acme.example"\n' + ROUTE
    config = parse_config(with_url + '\n[alerts]\nchannels = ["ops"]\n', env={})
    assert incident_warnings(config) == []


def test_alerts_without_a_usable_channel_is_a_warning() -> None:
    text = '[api]\npublic_url = "https://status.acme.example"\n' + ROUTE
    assert incident_warnings(parse_config(text, env={})) == [
        "alerts: no channel is listed: operators will not hear of outages"
    ]
    secret = text.replace(
        'url = "http://127.0.0.1:9/hook"',
        'url = "http://127.0.0.1:9/hook"\nsecret = "${OPS_SECRET}"',
    )
    config = parse_config(secret + '\n[alerts]\nchannels = ["ops"]\n', env={})
    assert incident_warnings(config) == [
        "alerts: none of ops is usable (missing secrets or disabled): operators will not hear "
        "of outages"
    ]


def test_check_config_prints_them(tmp_path: Path) -> None:
    path = tmp_path / "failover.toml"
    path.write_text(ROUTE + '\n[alerts]\nchannels = ["ops"]\n')
    out = subprocess.run(
        [sys.executable, "-m", "failover", "check-config", "-c", str(path)],
        capture_output=True, text=True, env={**os.environ}, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "warning: routes.default.announce.down: uses {feed_url}" in out.stderr
