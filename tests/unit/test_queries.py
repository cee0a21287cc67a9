"""SQL once: every query the store asks for exists in both dialects, is written in one place,
and compiles on SQLite; the PostgreSQL translation leaves casts, literals and comments alone."""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path

import pytest

from failover.store import queries

ROOT = Path(__file__).resolve().parents[2]
CALLS = {"fetch", "run", "run_many", "_all"}


def _norm(text: str) -> str:
    return " ".join(text.split())


def names_used() -> set[str]:
    """Query names passed as string literals to the store's query calls."""
    used: set[str] = set()
    for path in (ROOT / "failover" / "store").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CALLS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                used.add(node.args[0].value)
    return used


def test_the_store_code_uses_named_queries() -> None:
    # Guards the scan below: if the calls were renamed, it would find nothing and prove nothing.
    assert {"insert_message", "claim_due", "finish_delivery", "ap_delivery_claim"} <= names_used()


@pytest.mark.parametrize("dialect", queries.DIALECTS)
def test_every_query_name_resolves_in_both_dialects(dialect: str) -> None:
    assert sorted(names_used() - set(queries.load(dialect))) == []


def test_both_dialects_know_the_same_names() -> None:
    assert set(queries.load("sqlite")) == set(queries.load("postgres"))


@pytest.mark.parametrize("dialect", queries.DIALECTS)
def test_no_dialect_file_repeats_a_common_text(dialect: str) -> None:
    common = queries.common()
    if dialect == "postgres":
        common = {n: queries.to_psycopg(t) for n, t in common.items()}
    repeated = [
        n for n, t in queries.own(dialect).items() if n in common and _norm(t) == _norm(common[n])
    ]
    assert repeated == [], f"delete these from sql/{dialect}/: sql/common/ has the same text"


def test_no_query_is_written_twice_in_the_dialect_files() -> None:
    """A query both dialects define with the same text (once parameters are translated)
    belongs in sql/common/, written once."""
    sqlite, postgres = queries.own("sqlite"), queries.own("postgres")
    twice = [
        n
        for n in sorted(set(sqlite) & set(postgres))
        if _norm(queries.to_psycopg(sqlite[n])) == _norm(postgres[n])
    ]
    assert twice == [], "move these to sql/common/ (with :name parameters), once"


def test_dialect_files_hold_only_what_differs() -> None:
    # Most queries are shared; the dialect files are the exceptions (locks, JSON, clocks).
    assert len(queries.common()) > 3 * len(queries.own("postgres"))


def test_a_dialect_query_overrides_the_common_one() -> None:
    common, own = queries.common(), queries.own("sqlite")
    overridden = set(common) & set(own)
    for name in overridden:
        assert queries.load("sqlite")[name] == own[name]
    for name in set(common) - set(own):
        assert queries.load("sqlite")[name] == common[name]


def test_translation_to_psycopg_parameters() -> None:
    text = (
        "SELECT :a::bigint, ':not_a_param', 'it''s :x', \"col:y\", x LIKE 'down%'"
        " -- a comment: :z 100%\n WHERE b = :b_2 AND c = coalesce(:a, 0)"
    )
    assert queries.to_psycopg(text) == (
        "SELECT %(a)s::bigint, ':not_a_param', 'it''s :x', \"col:y\", x LIKE 'down%%'"
        " -- a comment: :z 100%%\n WHERE b = %(b_2)s AND c = coalesce(%(a)s, 0)"
    )


def test_translated_common_queries_keep_no_colon_parameter() -> None:
    for name, text in queries.load("postgres").items():
        bare = re.sub(r"'(?:[^']|'')*'|--[^\n]*|::", "", text)
        assert not re.search(r":[A-Za-z_]", bare), name


def test_a_name_defined_twice_in_one_layer_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "queries.sql").write_text("-- name: a\nSELECT 1;\n")
    (tmp_path / "queries_more.sql").write_text("-- name: a\nSELECT 2;\n")
    with pytest.raises(ValueError, match="'a' is defined twice"):
        queries._blocks(tmp_path)


def test_every_sqlite_query_compiles_against_the_migrated_schema() -> None:
    db = sqlite3.connect(":memory:")
    for _, script in queries.migrations("sqlite"):
        db.executescript(script)
    for name, text in queries.load("sqlite").items():
        params = dict.fromkeys(re.findall(r"(?<!:):([A-Za-z_]\w*)", text))
        try:
            db.execute("EXPLAIN " + text, params)
        except sqlite3.Error as exc:  # pragma: no cover - the message names the query
            pytest.fail(f"{name}: {exc}")
