"""Secret references are resolved in every string of the config, tables included, and every
value that came from one is masked in check-config's text and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from failover import cli
from failover.config import parse_config

HOOK_URL = "https://audit.example/hook?token=s3cr3t-in-the-url-0123"
HEADER = "Bearer header-secret-0123456789"
DSN_PASSWORD = "pg-password-from-env-42"

CONFIG = """
store = "${DATABASE_URL}"

[channels.audit]
type = "webhook"
url = "${AUDIT_HOOK_URL}"
headers = { Authorization = "${AUDIT_HEADER}", "X-Team" = "ops" }

[routes.default]
tiers = [["audit"]]
"""
ENV = {
    "AUDIT_HOOK_URL": HOOK_URL,
    "AUDIT_HEADER": HEADER,
    "DATABASE_URL": f"postgresql://failover:{DSN_PASSWORD}@db.internal/failover",
}


def test_references_in_tables_and_top_level_strings_are_resolved() -> None:
    config = parse_config(CONFIG, env=ENV)
    options = config.channels["audit"].options
    assert options is not None
    assert options.url == HOOK_URL  # type: ignore[attr-defined]
    assert options.headers == {"Authorization": HEADER, "X-Team": "ops"}  # type: ignore[attr-defined]
    assert config.store == ENV["DATABASE_URL"]
    assert {HOOK_URL, HEADER, ENV["DATABASE_URL"]} <= config.secret_values


def test_a_missing_reference_inside_a_table_makes_the_channel_unavailable() -> None:
    config = parse_config(CONFIG, env={**ENV, "AUDIT_HEADER": ""})
    audit = config.channels["audit"]
    assert not audit.available
    assert audit.missing == (
        "channels.audit.headers.Authorization: environment variable AUDIT_HEADER is not set",
    )


def test_a_missing_reference_outside_channels_is_an_error() -> None:
    with pytest.raises(Exception, match="store: environment variable DATABASE_URL is not set"):
        parse_config(CONFIG, env={k: v for k, v in ENV.items() if k != "DATABASE_URL"})


@pytest.mark.parametrize("as_json", [False, True])
def test_check_config_masks_every_value_that_came_from_a_reference(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    as_json: bool,
) -> None:
    path = tmp_path / "failover.toml"
    path.write_text(CONFIG)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["check-config", "-c", str(path), *(["--json"] if as_json else [])])
    out = capsys.readouterr()
    assert code == 0, out.err
    for secret in (HOOK_URL, HEADER, DSN_PASSWORD, "s3cr3t-in-the-url"):
        assert secret not in out.out + out.err
    if as_json:
        data = json.loads(out.out)["config"]
        options = data["channels"]["audit"]["options"]
        assert options["url"] == "***" and options["headers"]["Authorization"] == "***"
        assert options["headers"]["X-Team"] == "ops"  # plain values stay readable
        assert data["store"] == "postgresql://failover:***@db.internal/failover"
    else:
        assert "valid" in out.out and "audit" in out.out
