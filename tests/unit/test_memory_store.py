"""``SqliteStore(":memory:")``: the whole store, migrated, in memory — no file, no lock."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from failover.errors import StoreError
from failover.model import DeliveryState, NewMessage
from failover.store.base import NewDelivery
from failover.store.sqlite import SqliteStore
from tests.unit.conftest import T0


def msg(text: str = "hello") -> NewMessage:
    return NewMessage(text=text, route="default", created_by="test")


async def test_a_memory_store_works_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = SqliteStore(":memory:", exclusive=True)  # nothing to lock: ignored
    await s.open()
    try:
        due = [NewDelivery("hook", 0, DeliveryState.PENDING, T0)]
        message, created, _ = await s.create_message(msg(), due, [], T0)
        assert created and (await s.message(message.id)) == message
        assert await s.due_channels(T0 + timedelta(seconds=1)) == {"hook": 1}
        await s.ping()  # it can write
    finally:
        await s.close()
    assert os.listdir(tmp_path) == []


async def test_each_memory_store_is_its_own_database(store: SqliteStore) -> None:
    await store.create_message(msg("mine"), [], [], T0)
    other = SqliteStore(":memory:")
    await other.open()
    try:
        assert await other.messages(limit=10) == []
        assert [m.text for m in await store.messages(limit=10)] == ["mine"]
    finally:
        await other.close()


async def test_a_closed_memory_store_says_so(store: SqliteStore) -> None:
    await store.close()
    with pytest.raises(StoreError, match="not open"):
        await store.message(1)


async def test_a_file_store_still_makes_its_folder_and_files_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "failover.db"
    s = SqliteStore(path, exclusive=True)
    await s.open()
    try:
        assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
        assert path.with_suffix(".lock").exists()
    finally:
        await s.close()
