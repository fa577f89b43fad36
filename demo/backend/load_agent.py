"""HAProxy's agent check: each worker tells the proxy how much room it has for new sessions.

A session is long lived and its requests stick to one worker, so the load a new session adds
to is the sessions a worker holds, not the connections open at that instant (a startSession
takes milliseconds). With `LOAD_AGENT_PORT` set, a thread answers every connection on that port
with one line, as HAProxy's `agent-check` reads it (docker/haproxy.cfg):

- `ready 100%` ... `ready 1%`: the share of `MAX_SESSIONS` still free (1 % at the limit: a full
  worker still takes a session when every worker is full, by evicting an idle one);
- `drain`: shutting down (SIGTERM): no new sessions at once, before the health checks notice.

The proxy scales each server's `weight` by this percentage and balances new sessions by
weighted round robin, so they go where there is most room.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def agent_reply(held: int, max_sessions: int, draining: bool) -> str:
    if draining:
        return "drain\n"
    free = max(0, max_sessions - held)
    return f"ready {max(1, round(100 * free / max_sessions))}%\n"


class LoadAgent:
    """Answers HAProxy's agent checks on `port` with `reply()`, from a daemon thread."""

    def __init__(self, host: str, port: int, reply: Callable[[], str]):
        self.reply = reply
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(16)
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="load-agent", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed
                return
            with connection:
                try:
                    connection.settimeout(1.0)
                    connection.sendall(self.reply().encode())
                except Exception:  # a proxy that hung up, a failing count: the next check retries
                    log.debug("agent check not answered", exc_info=True)

    def close(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._socket.close()
        self._thread.join(timeout=5)
