"""The loopback HTTP server behind the simulated shops and the fake Amazon API.

A ``ThreadingHTTPServer`` that skips the DNS lookup on bind, tracks its open
connections and their threads, accepts in a background thread it can wake at
once, and on ``stop`` frees its port and drops kept-alive connections within
milliseconds (tests start and stop many of them).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LoopbackServer"]

log = logging.getLogger(__name__)


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, label: str
    ) -> None:
        self.label = label
        self.conn_lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()
        self.closing = threading.Event()
        self._stopped = False
        super().__init__(address, handler)
        try:
            self.socket.setblocking(False)
            self._wake_r, self._wake_w = socket.socketpair()
            self._accept = threading.Thread(
                target=self._accept_loop, name=f"{label} accept", daemon=True
            )
            self._accept.start()
        except BaseException:
            self.server_close()
            raise

    @property
    def base_url(self) -> str:
        return f"http://{self.server_name}:{self.server_port}"

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn(), a DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._process,
            args=(request, client_address),
            name=f"{self.label} conn {client_address[1]}",
            daemon=True,
        )
        with self.conn_lock:
            self.connections.add(request)
            self.threads.add(thread)
        thread.start()

    def _process(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.conn_lock:
                self.connections.discard(request)
                self.threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # the client went away
            return
        log.exception("%s: error while serving %s", self.label, client_address)

    def _accept_loop(self) -> None:
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ, "accept")
                selector.register(self._wake_r, selectors.EVENT_READ, "wake")
                while not self.closing.is_set():
                    for key, _ in selector.select():
                        if key.data == "wake" or self.closing.is_set():
                            return
                        try:
                            request, address = self.get_request()
                        except OSError:  # BlockingIOError: the client gave up already
                            continue
                        request.setblocking(True)
                        self.process_request(request, address)
        except Exception:  # pragma: no cover - never let the thread die noisily
            log.exception("%s: accept loop failed", self.label)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving, drop open connections and free the port (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.closing.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._accept.join(timeout)
        self.server_close()  # the listening socket: the port is free again
        with self.conn_lock:
            connections = list(self.connections)
            threads = list(self.threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._wake_r.close()
        self._wake_w.close()
