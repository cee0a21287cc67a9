"""One way to issue a token: the CLI refuses the names the API and the web UI refuse, stores
nothing when it refuses, and stores a good name the way the API does (stripped)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from failover.cli import main
from failover.config import load_config
from failover.errors import InvalidInput
from failover.store import open_store
from failover.tokens import valid_name

# Each is refused by POST /api/v1/tokens with a 400 naming "name".
REFUSED = ["", "   ", "x" * 101, "tab\there", "two\nlines", "bell\a"]


def stored_names(config: Path) -> list[str]:
    async def go() -> list[str]:
        store = open_store(load_config(config))
        await store.open()
        try:
            return [t.name for t in await store.tokens()]
        finally:
            await store.close()

    return asyncio.run(go())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "failover.toml"
    path.write_text(
        f'state_dir = "{tmp_path}"\n'
        '[channels.status]\ntype = "feed"\n'
        '[routes.default]\ntiers = [["status"]]\n'
    )
    return path


@pytest.mark.parametrize("name", REFUSED)
def test_the_cli_refuses_what_the_api_refuses(
    name: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidInput):
        valid_name(name)  # the rule the API applies
    code = main(["token", "create", "--role", "admin", "--name", name, "-c", str(config)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""  # no secret printed
    assert err == "error: name: must be 1 to 100 printable characters\n"
    assert stored_names(config) == []


def test_the_cli_stores_a_good_name_stripped(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["token", "create", "--role", "admin", "--name", "  laptop ", "-c", str(config)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith("fo_")
    assert stored_names(config) == ["laptop"]
    assert valid_name("x" * 100) == "x" * 100
