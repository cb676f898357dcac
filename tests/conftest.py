from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tracker.store import Store, open_store

POSTGRES_ENV = "TRACKER_TEST_POSTGRES_URL"
_skipped_postgres: list[str] = []


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[object | None]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        yield None
        return
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_admin: object | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """A fresh, empty database per test, on each backend. Commands and configs in the
    test see it through $TRACKER_DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
        monkeypatch.setenv("TRACKER_DATABASE_URL", url)
        yield url
        return
    if postgres_admin is None:
        _skipped_postgres.append(request.node.nodeid)
        pytest.skip(f"PostgreSQL not run: set {POSTGRES_ENV} (see README, Development)")
    import sqlalchemy as sa

    engine: sa.Engine = postgres_admin  # type: ignore[assignment]
    name = f"t_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = engine.url.set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("TRACKER_DATABASE_URL", url)
    yield url
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url) as s:
        yield s


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_postgres:
        terminalreporter.write_sep(
            "!",
            f"PostgreSQL NOT TESTED: {len(_skipped_postgres)} tests skipped; "
            f"set {POSTGRES_ENV} (bash .ci/postgres start)",
            red=True,
            bold=True,
        )
