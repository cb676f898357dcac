"""Per-host politeness across processes: several workers (``tracker serve`` or
``tracker run --due`` on one or many machines) sharing one database never send a
host more concurrent requests, or requests closer together, than configured.

A request takes a slot in the database (``hosts`` and ``host_slots``) in one
transaction that holds the host's row, and only when the host has a slot open and
its delay has passed; the slot is released when the request ends and expires on
its own if the worker dies. A worker whose host is busy waits without holding one
of its request slots, so its other hosts go on meanwhile. On PostgreSQL a release
is announced with NOTIFY and the waiting workers try again at once; on SQLite
they poll. The spacing counts from when a request really went out (``late``).
A host's robots.txt is read by one worker and kept for the others (``ROBOTS_TTL``).
Clocks of the machines are assumed to be in sync (NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tracker.config import Config
from tracker.store import HOST_CHANNEL, Store

__all__ = ["MARGIN", "ROBOTS_TTL", "DatabaseGate", "shared_gate_for"]

# Between the moment a worker marks a request sent and the moment its bytes leave,
# a busy machine can lose a few milliseconds; the shared delay adds this much.
MARGIN = 0.02
# Waiting for a busy host, try again this often even without a notification (a
# worker that died frees its slots by expiry, which nobody announces).
POLL = 0.5
JITTER = 0.005
# A robots.txt another worker read this recently is not asked for again.
ROBOTS_TTL = timedelta(hours=1)

log = logging.getLogger(__name__)


class DatabaseGate:
    """A ``tracker.fetch.SharedGate`` kept in the history database."""

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], datetime],
        owner: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.store = store
        self.now = now  # politeness: real seconds
        self.clock = clock or now  # the run's clock: how old a saved robots.txt is
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._listening: asyncio.Future[bool] | None = None

    async def acquire(
        self, origin: str, *, delay: float, limit: int, hold: float, slots: asyncio.Semaphore
    ) -> object:
        """Wait for a turn on ``origin`` and one of ``slots`` (this worker's request
        slots, held on return); a token for ``release``."""
        gap = timedelta(seconds=delay + MARGIN if delay else 0)
        notified = await self._notified()
        while True:
            freed = asyncio.Event()  # set by any release of this host from now on
            self._waiting.setdefault(origin, set()).add(freed)
            try:
                await slots.acquire()
                try:
                    # on the event loop's own thread, on purpose: the request goes out
                    # right after this returns, with no other coroutine in between
                    got = self.store.take_host(
                        origin,
                        now=self.now(),
                        delay=gap,
                        limit=limit,
                        hold=timedelta(seconds=hold),
                        owner=self.owner,
                    )
                except BaseException:
                    slots.release()
                    raise
                if isinstance(got, int):
                    return got
                slots.release()
                if isinstance(got, timedelta):  # a slot is open: wait out the delay
                    # a few ms of jitter: workers waiting for the same moment do not all
                    # ask at once (one takes it, the others wait for its release)
                    await asyncio.sleep(max(got.total_seconds(), 0.001) + random.uniform(0, JITTER))
                    continue
                # every slot is taken: wait for a release
                wait = POLL if notified else min(max(gap.total_seconds() / 2, 0.01), 0.1)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(freed.wait(), wait)
            finally:
                self._waiting[origin].discard(freed)

    async def robots(self, origin: str) -> tuple[int, bytes] | None:
        since = self.clock() - ROBOTS_TTL
        return await asyncio.to_thread(self.store.host_robots, origin, since=since)

    async def save_robots(self, origin: str, status: int, body: bytes) -> None:
        now = self.clock()
        await asyncio.to_thread(self.store.save_host_robots, origin, status, body, now=now)

    async def release(self, token: object, *, late: float = 0.0) -> None:
        assert isinstance(token, int)
        await asyncio.to_thread(self.store.release_host, token, late=timedelta(seconds=late))

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._listening = None

    async def _notified(self) -> bool:
        """Start listening for released hosts (once); whether notifications will come."""
        if self._listening is None:
            self._listening = asyncio.get_running_loop().create_future()
            url = self.store.listen_url()
            if url is None:  # SQLite: nothing to listen to
                self._listening.set_result(False)
            else:
                self._listener = asyncio.create_task(self._listen(url, self._listening))
        return await asyncio.shield(self._listening)

    async def _listen(self, url: str, ready: asyncio.Future[bool]) -> None:
        """Wake the coroutines waiting for a host when any worker releases one of its slots."""
        try:
            import psycopg

            conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        except Exception as exc:  # polling still works
            log.warning("no notifications of released hosts (%s); polling instead", exc)
            ready.set_result(False)
            return
        try:
            await conn.execute(f"LISTEN {HOST_CHANNEL}")
            ready.set_result(True)
            async for note in conn.notifies():
                for event in self._waiting.get(note.payload, ()):
                    event.set()
        except Exception as exc:
            log.warning("notifications of released hosts stopped (%s); polling instead", exc)
        finally:
            if not ready.done():
                ready.set_result(False)
            await conn.close()


def shared_gate_for(
    config: Config, store: Store, *, now: Callable[[], datetime] | None = None
) -> DatabaseGate | None:
    """The shared gate when ``[fetch] shared_politeness`` asks for it (by default: with
    PostgreSQL, where several workers are expected). Politeness keeps time by the real
    clock, never a run's (possibly simulated) ``now``: hosts see real seconds; the age
    of a saved robots.txt is counted on the run's clock."""
    wanted = config.fetch.shared_politeness
    if wanted is None:
        wanted = not store.is_sqlite
    return DatabaseGate(store, now=_wall_clock, clock=now) if wanted else None


def _wall_clock() -> datetime:
    return datetime.now(UTC)
