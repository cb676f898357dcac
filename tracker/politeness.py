"""Per-host politeness across processes: several workers (``tracker serve`` or
``tracker run --due`` on one or many machines) sharing one database never send a
host more concurrent requests, or requests closer together, than configured.

Each request reserves a start time and a slot in the database (``hosts`` and
``host_slots``); the slot is released when the request ends and expires on its
own if the worker dies. Clocks of the machines are assumed to be in sync (NTP).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from tracker.config import Config
from tracker.store import LOST_SLOT, Store

__all__ = ["MARGIN", "DatabaseGate", "shared_gate_for"]

# Between the moment a worker marks a request sent and the moment its bytes leave,
# a busy machine can lose a few milliseconds; the shared delay adds this much.
MARGIN = 0.02


class DatabaseGate:
    """A ``tracker.fetch.SharedGate`` kept in the history database."""

    def __init__(self, store: Store, *, now: Callable[[], datetime], owner: str | None = None):
        self.store = store
        self.now = now
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"

    async def acquire(self, origin: str, *, delay: float, limit: int, hold: float) -> object:
        gap = timedelta(seconds=delay + MARGIN if delay else 0)
        # a free host: one transaction, on the loop's thread so the request follows at once
        taken = self.store.take_host_now(
            origin,
            now=self.now(),
            delay=gap,
            limit=limit,
            hold=timedelta(seconds=hold),
            owner=self.owner,
        )
        if taken is not None:
            return taken
        while True:
            reserved = await asyncio.to_thread(
                self.store.reserve_host,
                origin,
                now=self.now(),
                delay=gap,
                limit=limit,
                hold=timedelta(seconds=hold),
                owner=self.owner,
            )
            if isinstance(reserved, timedelta):  # every slot is taken: ask again shortly
                await asyncio.sleep(reserved.total_seconds())
                continue
            start, slot = reserved
            wait = (start - self.now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            while True:
                # on the event loop's own thread, on purpose: the request goes out right
                # after this returns, with no other coroutine scheduled in between
                hold_back = self.store.confirm_host(slot, now=self.now(), delay=gap)
                if hold_back is None:
                    return slot
                if hold_back == LOST_SLOT:
                    break
                await asyncio.sleep(max(hold_back.total_seconds(), 0.005))

    async def release(self, token: object) -> None:
        assert isinstance(token, int)
        await asyncio.to_thread(self.store.release_host, token)


def shared_gate_for(
    config: Config, store: Store, *, now: Callable[[], datetime]
) -> DatabaseGate | None:
    """The shared gate when ``[fetch] shared_politeness`` asks for it (by default: with
    PostgreSQL, where several workers are expected)."""
    wanted = config.fetch.shared_politeness
    if wanted is None:
        wanted = not store.is_sqlite
    return DatabaseGate(store, now=now) if wanted else None
