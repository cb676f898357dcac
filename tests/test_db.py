"""Moving a history between databases: SQLite to PostgreSQL and back, without loss."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tracker.errors import StoreError
from tracker.schema import Base
from tracker.store import copy_database, head_revision, open_store


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, through the column types (Decimal, aware datetimes)."""
    with open_store(url, migrate=False) as store, store.engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
            for t in Base.metadata.sorted_tables
        }


@pytest.fixture(scope="module")
def demo_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "tracker", "demo", "--output", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return out / "tracker.sqlite3"


def test_copy_moves_everything_and_back(demo_history: Path, db_url: str, tmp_path: Path) -> None:
    source = f"sqlite:///{demo_history}"
    before = dump(source)
    assert before["observations"] and before["quarantine"] and before["failure_pages"]
    with open_store(source) as src, open_store(db_url) as dst:
        copied = copy_database(src, dst)
    assert copied == {name: len(rows) for name, rows in before.items()}
    assert dump(db_url) == before
    back = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    with open_store(db_url) as src, open_store(back) as dst:
        copy_database(src, dst)
    assert dump(back) == before
    # the copy keeps working: new rows get fresh ids
    with open_store(db_url) as store:
        from datetime import UTC, datetime

        run_id = store.start_run(now=datetime.now(UTC))
    assert run_id == len(before["runs"]) + 1


def test_copy_refuses_a_database_with_data(demo_history: Path, tmp_path: Path) -> None:
    source = f"sqlite:///{demo_history}"
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    with open_store(source) as src, open_store(target) as dst:
        copy_database(src, dst)
        with pytest.raises(StoreError, match="already holds data"):
            copy_database(src, dst)


def test_db_copy_command(demo_history: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[tracker]\ndatabase = "sqlite:///{demo_history}"\n')
    target = f"sqlite:///{tmp_path / 'copy.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(config), "db", "copy", "--to", target],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "observations:" in done.stdout
    assert dump(target) == dump(f"sqlite:///{demo_history}")


def test_a_database_behind_the_newest_migration_is_upgraded_on_open(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "tracker:migrations")
    # opening skips Alembic when the database is current, so both must agree on the head
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()
    with open_store(url) as store, store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    with open_store(url) as store, store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == (
            head_revision()
        )
        assert "last_sent" in {c["name"] for c in sa.inspect(conn).get_columns("hosts")}


def test_the_migrations_build_the_schema_the_models_describe(db_url: str) -> None:
    """A change to ``tracker/schema.py`` without its migration, or a migration the models
    do not follow, is caught before it reaches a user's database: the database the
    migrations build, one after the other, has the models' tables, columns, types,
    indexes and constraints (a new database is built from the models directly)."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config as AlembicConfig
    from alembic.runtime.migration import MigrationContext

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "tracker:migrations")
    with open_store(db_url, migrate=False) as store, store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with open_store(db_url, migrate=False) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, Base.metadata) == []


def test_a_new_database_is_built_at_the_newest_revision(db_url: str) -> None:
    """A new database is built from the models and stamped where Alembic looks, so the
    next migration applies to it; a half-built one is never left behind."""
    from alembic.runtime.migration import MigrationContext

    with open_store(db_url) as store, store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        tables = set(sa.inspect(conn).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_processes_opening_a_new_database_at_once_all_find_it_built(db_url: str) -> None:
    """A run and the daemon (or several workers) started together on a new database:
    every one of them opens it, none fails, and it is built once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(4)

    def open_it(_: int) -> None:
        start.wait()
        with open_store(db_url):
            pass

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(open_it, range(4)))
    with open_store(db_url, migrate=False) as store, store.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [tuple(v) for v in versions] == [(head_revision(),)]
