from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

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


def run_tracker(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The ``tracker`` command run as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "tracker", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def smtp_server(*, password: bytes, received: list[Message] | None = None) -> Iterator[int]:
    """A real SMTP server on loopback that accepts ``password`` (AUTH PLAIN) and keeps
    the messages it gets in ``received``; its port."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if received is not None:
                received.append(message_from_bytes(envelope.content))
            return "250 OK"

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == password
        return AuthResult(success=ok, handled=False)  # handled=False: answer 535 on failure

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextlib.contextmanager
def fresh_database(
    kind: str, folder: Path, postgres_admin: Any, who: str, *, password: str | None = None
) -> Iterator[str]:
    """The URL of a new, empty database on ``kind`` (sqlite or postgresql), dropped after.

    On PostgreSQL, with ``password``, the database belongs to a new role that logs in
    with it (and the URL carries it). Without PostgreSQL the test ``who`` is skipped.
    """
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'history.sqlite3'}"
        return
    if postgres_admin is None:
        _skipped_postgres.append(who)  # for the red "PostgreSQL NOT TESTED" line
        pytest.skip(f"PostgreSQL not run: set {POSTGRES_ENV} (see README, Development)")
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres_admin.url.set(database=name)
    with postgres_admin.connect() as conn:
        if password is None:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(sa.text(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'"))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" OWNER {name}'))
            url = url.set(username=name, password=password)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with postgres_admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if password is not None:
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {name}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_admin: object | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """A fresh, empty database per test, on each backend. Commands and configs in the
    test see it through $TRACKER_DATABASE_URL."""
    with fresh_database(request.param, tmp_path, postgres_admin, request.node.nodeid) as url:
        monkeypatch.setenv("TRACKER_DATABASE_URL", url)
        yield url


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
