"""Config validation: errors name the key path and line; secrets only by reference."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from failover.config import load_config, parse_config
from failover.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

BASE = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env=env or {})
    return info.value.problems


def test_example_config_is_valid_and_reports_missing_secret() -> None:
    cfg = load_config(REPO / "config.example.toml", env={})
    assert cfg.channels["status"].available
    hook = cfg.channels["ops-webhook"]
    assert not hook.available
    assert hook.missing == (
        "channels.ops-webhook.secret: environment variable FAILOVER_WEBHOOK_SECRET is not set",
    )
    cfg = load_config(REPO / "config.example.toml", env={"FAILOVER_WEBHOOK_SECRET": "s3cret-value"})
    assert cfg.channels["ops-webhook"].available
    assert "s3cret-value" not in str(cfg.masked())


def test_duration_error_names_key_and_line() -> None:
    text = BASE + '\n[channels.status.health]\ncooldown = "five seconds"\n'
    [msg] = problems(text)
    assert msg.startswith("channels.status.health.cooldown (line 9): expected a duration like")


def test_missing_required_key() -> None:
    text = '[channels.hook]\ntype = "webhook"\n\n[routes.default]\ntiers = [["hook"]]\n'
    [msg] = problems(text)
    assert msg == "channels.hook.url (line 1): missing (this key is required)"


def test_wrong_type() -> None:
    text = BASE.replace('type = "feed"', 'type = "feed"\nconcurrency = "many"')
    [msg] = problems(text)
    assert msg.startswith("channels.status.concurrency (line 4): expected a whole number")


def test_unknown_key_and_unknown_channel_type() -> None:
    text = BASE.replace('type = "feed"', 'type = "feed"\ntitel = "typo"')
    [msg] = problems(text)
    assert msg.startswith("channels.status.titel (line 4): unknown key")
    [msg] = problems(BASE.replace('"feed"', '"myspace"'))
    assert msg.startswith("channels.status.type (line 3): unknown channel type 'myspace'")


def test_literal_secret_is_refused() -> None:
    text = '[channels.hook]\ntype = "webhook"\nurl = "http://x"\nsecret = "hunter22"\n\n[routes.default]\ntiers = [["hook"]]\n'
    [msg] = problems(text)
    assert msg.startswith(
        "channels.hook.secret (line 4): secrets must not be written in the config"
    )
    assert "hunter22" not in msg


def test_secret_references(tmp_path: Path) -> None:
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text("from-file\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "hook").write_text("from-credential")
    for ref, env, expected in [
        ("${HOOK}", {"HOOK": "from-env"}, "from-env"),
        (f"file:{secret_file}", {}, "from-file"),
        ("credential:hook", {"CREDENTIALS_DIRECTORY": str(creds)}, "from-credential"),
    ]:
        text = f'[channels.hook]\ntype = "webhook"\nurl = "http://x"\nsecret = "{ref}"\n\n[routes.default]\ntiers = [["hook"]]\n'
        cfg = parse_config(text, env=env)
        options = cfg.channels["hook"].options
        assert options is not None
        assert options.secret.get_secret_value() == expected  # type: ignore[attr-defined]


def test_missing_file_secret_marks_channel_unavailable(tmp_path: Path) -> None:
    text = f'[channels.hook]\ntype = "webhook"\nurl = "http://x"\nsecret = "file:{tmp_path}/nope"\n\n[routes.default]\ntiers = [["hook"]]\n'
    cfg = parse_config(text, env={})
    assert cfg.channels["hook"].missing == (
        f"channels.hook.secret: file:{tmp_path}/nope: no such file",
    )


def test_route_errors() -> None:
    [msg] = problems(BASE.replace('[["status"]]', '[["status"], ["nowhere"]]'))
    assert msg == "routes.default.tiers (line 6): unknown channel 'nowhere'"
    [msg] = problems(BASE.replace('[["status"]]', '[["status"], ["status"]]'))
    assert "appears twice" in msg
    [msg] = problems(
        BASE.replace('tiers = [["status"]]', 'tiers = [["status"]]\nmode = "roundrobin"')
    )
    assert msg.startswith("routes.default.mode (line 7): expected one of 'failover' or 'broadcast'")


def test_toml_syntax_error_has_line() -> None:
    [msg] = problems('[channels.status\ntype = "feed"\n')
    assert msg.startswith("not valid TOML:") and "line 1" in msg


def test_relative_state_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "failover.toml"
    path.parent.mkdir()
    path.write_text('state_dir = "var"\n' + BASE)
    assert load_config(path, env={}).state_dir == tmp_path / "conf" / "var"


def test_commented_channel_examples_are_valid_options() -> None:
    """The example config's commented-out channels document real keys (no drift)."""
    import re
    import tomllib

    from channels.registry import adapter_class
    from failover.config import CORE_CHANNEL_KEYS

    lines = (REPO / "config.example.toml").read_text().splitlines()
    blocks: list[list[str]] = []
    header = re.compile(r"^# \[channels\.[\w-]+\]$")
    for line in lines:
        if header.match(line):
            blocks.append([line[2:]])
        elif blocks and blocks[-1] and line.startswith("# ") and not line.startswith("# #"):
            if line[2:3].isalpha():
                blocks[-1].append(line[2:])
        elif blocks and not line.strip():
            blocks.append([])  # a blank line ends the block
    examples = [b for b in blocks if b]
    assert {tomllib.loads("\n".join(b))["channels"].popitem()[1]["type"] for b in examples} >= {
        "email", "slack", "apprise", "mastodon", "bluesky",
    }  # fmt: skip
    for block in examples:
        name, table = tomllib.loads("\n".join(block))["channels"].popitem()
        options = {k: v for k, v in table.items() if k not in CORE_CHANNEL_KEYS}
        adapter_class(table["type"]).Options.model_validate(options)  # raises on an unknown key


def test_display_name_defaults_to_the_platform_not_the_key() -> None:
    text = textwrap.dedent(
        """
        [channels.twitter-main]
        type = "feed"
        [channels.status]
        type = "feed"
        display_name = "Acme status"
        [routes.default]
        mode = "broadcast"
        tiers = [["twitter-main", "status"]]
        """
    )
    cfg = parse_config(text, env={})
    assert cfg.channels["twitter-main"].label == "Status page"
    assert cfg.channels["status"].label == "Acme status"


@pytest.mark.parametrize("kind", ["http", "statuspage"])
def test_probe_without_url_is_a_config_error_naming_the_key(kind: str) -> None:
    text = BASE + f'\n[channels.status.health]\nprobes = [{{kind = "{kind}", interval = "5s"}}]\n'
    [msg] = problems(text)
    assert msg.startswith("channels.status.health.probes.0.url"), msg
    assert f"a probe of kind '{kind}' needs the url it checks" in msg
    adapter = BASE + '\n[channels.status.health]\nprobes = [{kind = "adapter"}]\n'
    assert parse_config(adapter, env={}).channels["status"].health.probes[0].url is None


def test_escalate_after_defaults_to_20s_and_can_be_turned_off() -> None:
    assert parse_config(BASE, env={}).routes["default"].escalate_after == 20.0
    off = BASE.replace('tiers = [["status"]]', 'tiers = [["status"]]\nescalate_after = "off"')
    assert parse_config(off, env={}).routes["default"].escalate_after is None
    short = BASE.replace('tiers = [["status"]]', 'tiers = [["status"]]\nescalate_after = "5s"')
    assert parse_config(short, env={}).routes["default"].escalate_after == 5.0
    bad = BASE.replace('tiers = [["status"]]', 'tiers = [["status"]]\nescalate_after = "soon"')
    [msg] = problems(bad)
    assert msg.startswith("routes.default.escalate_after (line 7): expected a duration like")
