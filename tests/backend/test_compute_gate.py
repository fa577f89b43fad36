"""The compute gate: bounded slots, direct hand-over (no barging), clicks before propagation steps."""

import threading
import time

import pytest

from demo.backend.compute_gate import BACKGROUND, INTERACTIVE, ComputeGate
from demo.backend.errors import Busy


def test_slots_bound_concurrency():
    gate = ComputeGate(2)
    running, peak, lock = [0], [0], threading.Lock()

    def work():
        with gate.slot():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2 and gate.waiting == 0


def test_a_looping_background_user_cannot_starve_a_waiting_click():
    gate = ComputeGate(1)
    order = []
    stop = threading.Event()

    def propagate():
        while not stop.is_set():  # releases and re-acquires at once, like a frame loop
            with gate.slot(BACKGROUND):
                order.append("frame")
                time.sleep(0.005)

    looper = threading.Thread(target=propagate)
    looper.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    with gate.slot(INTERACTIVE, timeout=5):
        order.append("click")
        waited = time.monotonic() - t0
    stop.set()
    looper.join()
    assert waited < 0.1  # at most about one frame step
    assert "click" in order


def test_interactive_waiters_go_first():
    gate = ComputeGate(1)
    gate.acquire()
    order = []

    def wait(priority, name):
        with gate.slot(priority, timeout=5):
            order.append(name)

    background = threading.Thread(target=wait, args=(BACKGROUND, "frame"))
    background.start()
    time.sleep(0.05)
    click = threading.Thread(target=wait, args=(INTERACTIVE, "click"))
    click.start()
    time.sleep(0.05)
    gate.release()
    background.join()
    click.join()
    assert order == ["click", "frame"]


def test_timeout_raises_busy_and_leaves_no_waiter():
    gate = ComputeGate(1)
    gate.acquire()
    with pytest.raises(Busy), gate.slot(timeout=0.05):
        pass
    assert gate.waiting == 0
    gate.release()
    assert gate.acquire(timeout=0.01)


def test_a_crowd_of_clicks_cannot_starve_a_propagation_step():
    gate = ComputeGate(1, burst=2)
    gate.acquire()
    order = []
    threads = []

    def wait(priority, name):
        with gate.slot(priority, timeout=5):
            order.append(name)

    threads.append(threading.Thread(target=wait, args=(BACKGROUND, "frame")))
    threads[-1].start()
    time.sleep(0.05)
    for i in range(4):
        threads.append(threading.Thread(target=wait, args=(INTERACTIVE, f"click{i}")))
        threads[-1].start()
        time.sleep(0.02)
    gate.release()
    for t in threads:
        t.join()
    assert order == ["click0", "click1", "frame", "click2", "click3"]
