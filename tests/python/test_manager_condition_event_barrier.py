"""``Condition``, ``Event`` and ``Barrier`` against unmodified CPython clients
(docs/protocol.md 9.7-9.9).

Waits and wake-ups across threads (each with its own serving connection) and
across separate processes; a Condition built on a Lock proxy
(``m.Condition(m.Lock())``); ``wait_for``, which runs in the client; barrier
timeouts, ``abort``/``reset`` and its properties.
"""

import threading
import time

import pytest

from _mgr import fork_context, in_thread, manager, manager_factory, mpcluster_only, wait_until  # noqa: F401


def raises(exc_type, message, fn, *args, **kwds):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwds)
    assert type(info.value) is exc_type
    if message is not None:
        assert str(info.value) == message


def start_waiter(cond, timeout=10):
    """A thread that acquires ``cond``, says so, then waits on it. Once the
    caller can acquire ``cond`` itself, the waiter is inside ``wait``."""
    inside = threading.Event()

    def wait():
        with cond:
            inside.set()
            return cond.wait(timeout)

    handle = in_thread(wait)
    assert inside.wait(10)
    return handle


# --------------------------------------------------------------------------- Condition


def test_condition_wait_notify_across_threads(sync_manager):
    cond = sync_manager.Condition()
    waiter = start_waiter(cond)
    with cond:  # only possible once the waiter released the lock in wait()
        cond.notify()
    assert waiter.join() == (True, None)


def test_condition_wait_times_out(sync_manager):
    cond = sync_manager.Condition()
    with cond:
        started = time.monotonic()
        assert cond.wait(0.2) is False
        assert 0.15 <= time.monotonic() - started < 2.0
        # Still owned after the wait: re-entrant (default RLock).
        assert cond.acquire(False) is True
        cond.release()


def test_condition_needs_its_lock(sync_manager):
    cond = sync_manager.Condition()
    raises(RuntimeError, "cannot wait on un-acquired lock", cond.wait, 0.1)
    raises(RuntimeError, "cannot notify on un-acquired lock", cond.notify)
    raises(RuntimeError, "cannot notify on un-acquired lock", cond.notify_all)
    raises(RuntimeError, "cannot release un-acquired lock", cond.release)
    # Owned by another thread's connection: still not ours.
    cond.acquire()
    _, error = in_thread(cond.notify).join()
    assert type(error) is RuntimeError and str(error) == "cannot notify on un-acquired lock"
    cond.release()


def test_notify_one_versus_notify_all(sync_manager):
    cond = sync_manager.Condition()
    first = start_waiter(cond, timeout=10)
    second = start_waiter(cond, timeout=10)
    with cond:
        cond.notify(1)
    # Exactly one of them wakes now; the other is woken by notify_all.
    woke = wait_until(lambda: not first.thread.is_alive() or not second.thread.is_alive(), timeout=5)
    assert woke
    time.sleep(0.2)
    assert first.thread.is_alive() != second.thread.is_alive()
    with cond:
        cond.notify_all()
    results = [first.join(), second.join()]
    assert results == [(True, None), (True, None)]


def test_notify_all_wakes_every_waiter(sync_manager):
    cond = sync_manager.Condition()
    waiters = [start_waiter(cond) for _ in range(3)]
    with cond:
        cond.notify_all()
    assert [w.join() for w in waiters] == [(True, None)] * 3


def test_condition_on_a_lock_proxy(sync_manager):
    lock = sync_manager.Lock()
    cond = sync_manager.Condition(lock)
    cond.acquire()
    # The condition's lock is the shared Lock itself.
    assert lock.acquire(False) is False
    assert cond.wait(0.1) is False
    cond.release()
    assert lock.acquire(False) is True
    lock.release()
    waiter = start_waiter(cond)
    with cond:
        cond.notify()
    assert waiter.join() == (True, None)
    assert lock.acquire(False) is True
    lock.release()


def test_wait_for_runs_the_predicate_in_the_client(sync_manager):
    cond = sync_manager.Condition()
    items = sync_manager.list()

    def producer():
        time.sleep(0.1)
        with cond:
            items.append("ready")
            cond.notify_all()

    with cond:
        assert cond.wait_for(lambda: len(items) > 0, timeout=0.2) is False
        t = threading.Thread(target=producer, daemon=True)
        t.start()
        assert cond.wait_for(lambda: len(items) > 0, timeout=10) is True
    t.join(5)
    assert items._getvalue() == ["ready"]


def _wait_on_condition(cond, inside, out):
    with cond:
        inside.set()
        out.put(("woke", cond.wait(10)))


def test_condition_across_processes(sync_manager):
    cond = sync_manager.Condition()
    inside, out = sync_manager.Event(), sync_manager.Queue()
    child = fork_context().Process(target=_wait_on_condition, args=(cond, inside, out))
    child.start()
    try:
        assert inside.wait(10)
        with cond:  # the child released the lock inside wait()
            cond.notify_all()
        assert out.get(timeout=10) == ("woke", True)
    finally:
        child.join(10)
    assert child.exitcode == 0


# --------------------------------------------------------------------------- Event


def test_event_set_clear_wait(sync_manager):
    event = sync_manager.Event()
    assert event.is_set() is False
    started = time.monotonic()
    assert event.wait(0.2) is False
    assert 0.15 <= time.monotonic() - started < 2.0
    event.set()
    assert event.is_set() is True and event.wait() is True and event.wait(0) is True
    event.clear()
    assert event.is_set() is False and event.wait(0.01) is False
    waiter = in_thread(event.wait, 10)
    event.set()
    assert waiter.join() == (True, None)


def _wait_for_event(event, out):
    out.put(("event", event.wait(10)))


def test_event_across_processes(sync_manager):
    event, out = sync_manager.Event(), sync_manager.Queue()
    children = [fork_context().Process(target=_wait_for_event, args=(event, out)) for _ in range(2)]
    for c in children:
        c.start()
    try:
        event.set()
        assert [out.get(timeout=10) for _ in children] == [("event", True)] * 2
    finally:
        for c in children:
            c.join(10)
    assert [c.exitcode for c in children] == [0, 0]


# --------------------------------------------------------------------------- Barrier


def _barrier_wait(barrier, out):
    out.put(barrier.wait(10))


def test_barrier_three_parties_across_processes(sync_manager):
    barrier, out = sync_manager.Barrier(3), sync_manager.Queue()
    assert (barrier.parties, barrier.n_waiting, barrier.broken) == (3, 0, False)
    children = [fork_context().Process(target=_barrier_wait, args=(barrier, out)) for _ in range(2)]
    for c in children:
        c.start()
    try:
        assert wait_until(lambda: barrier.n_waiting == 2, timeout=10)
        mine = barrier.wait(10)
        indices = sorted([mine, out.get(timeout=10), out.get(timeout=10)])
        assert indices == [0, 1, 2]
    finally:
        for c in children:
            c.join(10)
    assert [c.exitcode for c in children] == [0, 0]
    assert (barrier.n_waiting, barrier.broken) == (0, False)


def test_barrier_timeout_breaks_it_for_everybody(sync_manager):
    import threading as th

    barrier = sync_manager.Barrier(3)
    other = in_thread(barrier.wait, 10)
    assert wait_until(lambda: barrier.n_waiting == 1, timeout=10)
    started = time.monotonic()
    raises(th.BrokenBarrierError, "", barrier.wait, 0.2)
    assert 0.15 <= time.monotonic() - started < 2.0
    _, error = other.join()
    assert type(error) is th.BrokenBarrierError
    assert barrier.broken is True
    raises(th.BrokenBarrierError, "", barrier.wait, 1)
    barrier.reset()
    assert (barrier.broken, barrier.n_waiting) == (False, 0)


def test_barrier_abort_and_reset(sync_manager):
    import threading as th

    barrier = sync_manager.Barrier(2)
    waiter = in_thread(barrier.wait, 10)
    assert wait_until(lambda: barrier.n_waiting == 1, timeout=10)
    barrier.abort()
    _, error = waiter.join()
    assert type(error) is th.BrokenBarrierError
    assert barrier.broken is True
    raises(th.BrokenBarrierError, "", barrier.wait)
    barrier.reset()
    assert barrier.broken is False
    other = in_thread(barrier.wait, 10)
    assert {barrier.wait(10), other.join()[0]} == {0, 1}


def test_barrier_reset_breaks_current_waiters(sync_manager):
    import threading as th

    barrier = sync_manager.Barrier(2)
    waiter = in_thread(barrier.wait, 10)
    assert wait_until(lambda: barrier.n_waiting == 1, timeout=10)
    barrier.reset()
    _, error = waiter.join()
    assert type(error) is th.BrokenBarrierError
    assert barrier.broken is False


@mpcluster_only("CPython's server serves any attribute (e.g. '_cond' is #UNSERIALIZABLE)")
def test_barrier_serves_only_its_three_properties(sync_manager):
    barrier = sync_manager.Barrier(2)
    with pytest.raises(AttributeError):
        barrier._callmethod("__getattribute__", ("_cond",))
    assert barrier.parties == 2
