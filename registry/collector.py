"""Python's cycle collector, paused while a request or a batch runs.

A request or a recompute batch allocates many short-lived objects (decisions, reasons, rows) beside large long-lived
ones (the rulebook, the catalogue, the engine's plans, the app itself). The collector, triggered by allocations,
kept scanning the long-lived ones: half of a recompute's time (1,500 products: 14.7 s, 7.4 s paused) and about a
millisecond of each submission that decides its product. Reference counting still frees what the work drops as it
goes; the collector resumes when the last paused piece of work ends and takes any cycle left then.
"""

from __future__ import annotations

import gc
import os
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

_lock = threading.Lock()
_running = 0  # pieces of work in progress that paused the collector
_resume = False  # whether the collector was on when the first of them began


def _fresh_lock_in_child() -> None:
    # A recompute forks its worker processes, possibly while another thread holds the lock for an instant: the
    # child gets its own, unheld one. (The child keeps the count, and so the pause, of the work that forked it.)
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


@contextmanager
def paused() -> Iterator[None]:
    """Pause the collector for the block; nested and concurrent blocks (threads) resume it only after the last."""
    global _running, _resume
    with _lock:
        if _running == 0:
            _resume = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _resume:
                gc.enable()


def pausing_wsgi(wsgi_app: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a WSGI app so that the collector is paused while each request is handled."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with paused():
            return wsgi_app(environ, start_response)

    return app
