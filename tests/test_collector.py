"""The cycle collector is paused while work runs and always comes back on after the last piece of it."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time

import pytest

from registry import collector


@pytest.fixture(autouse=True)
def _collector_on():
    assert gc.isenabled()
    yield
    gc.enable()


def test_paused_during_the_block_and_resumed_after_it_even_when_it_fails():
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("a batch failed")
    assert gc.isenabled()


def test_nested_blocks_resume_only_after_the_outermost():
    with collector.paused():
        with collector.paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_stays_off_when_something_else_turned_it_off():
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_concurrent_requests_resume_it_only_after_the_last_one_ends():
    first_in, second_in, first_may_end = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first():
        with collector.paused():
            first_in.set()
            first_may_end.wait(5)
        seen["after first"] = gc.isenabled()
        second_in.set()

    thread = threading.Thread(target=first)
    with collector.paused():
        thread.start()
        first_in.wait(5)
        first_may_end.set()
        second_in.wait(5)  # the first block ended while this one still runs
        seen["during second"] = gc.isenabled()
    thread.join(5)
    assert seen == {"after first": False, "during second": False}
    assert gc.isenabled()


def test_requests_run_with_it_paused(app):
    seen = []

    @app.get("/__collector_probe")
    def probe():
        seen.append(gc.isenabled())
        return "ok"

    assert app.test_client().get("/__collector_probe").status_code == 200
    assert seen == [False] and gc.isenabled()


def test_a_forked_worker_gets_a_lock_of_its_own(tmp_path):
    """Recomputes fork worker processes; one forked while the lock is held must not hang on it."""
    out = tmp_path / "child"
    with collector._lock:  # another thread's instant, frozen at the fork
        pid = os.fork()
        if pid == 0:  # the child: pause and resume once, then report
            try:
                with collector.paused():
                    pass
                out.write_text("ok")
            finally:
                os._exit(0)
    deadline = time.monotonic() + 10
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on the collector's lock")
    assert done[1] == 0 and out.read_text() == "ok"
