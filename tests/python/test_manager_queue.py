"""``Queue`` and ``JoinableQueue`` (AutoProxy) against unmodified CPython
clients (docs/protocol.md 9.10).

Arguments arrive exactly as the user wrote them, so ``block``/``timeout`` are
tested in positional and keyword forms; ``queue.Empty``/``queue.Full`` must be
the exact classes; waits block only the caller's connection and are woken by
other threads and other processes; ``join``/``task_done`` across threads.
"""

import queue
import threading
import time

import pytest

from _mgr import fork_context, in_thread, manager, manager_factory  # noqa: F401

# The nine names a 3.8-3.12 CPython server exposes for queue.Queue; 3.13+
# adds `shutdown` (docs/protocol.md 9.10).
QUEUE_METHODS = {"empty", "full", "get", "get_nowait", "join", "put", "put_nowait", "qsize", "task_done"}


def raises_exact(exc_type, fn, *args, **kwds):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwds)
    assert type(info.value) is exc_type
    return info.value


def timed(fn, *args, **kwds):
    started = time.monotonic()
    try:
        fn(*args, **kwds)
    except Exception as e:
        return type(e), time.monotonic() - started
    return None, time.monotonic() - started


def test_exposed_methods(sync_manager):
    q = sync_manager.Queue()
    assert QUEUE_METHODS <= set(q._exposed_) <= QUEUE_METHODS | {"shutdown"}
    jq = sync_manager.JoinableQueue()
    assert QUEUE_METHODS <= set(jq._exposed_) <= QUEUE_METHODS | {"shutdown"}


def test_put_get_fifo_and_sizes(sync_manager):
    q = sync_manager.Queue()
    assert q.empty() and q.qsize() == 0 and not q.full()
    for item in (1, "two", [3], None, {"k": (4,)}):
        q.put(item)
    assert q.qsize() == 5 and not q.empty()
    assert [q.get() for _ in range(5)] == [1, "two", [3], None, {"k": (4,)}]
    q.put_nowait("n")
    assert q.get_nowait() == "n"
    q.put("kw", block=False)
    q.put("kw2", True, 1)
    q.put("kw3", timeout=1)
    assert q.get(block=False) == "kw"
    assert q.get(True, 1) == "kw2"
    assert q.get(timeout=1) == "kw3"
    assert q.empty()


def test_empty_is_queue_empty_in_every_form(sync_manager):
    q = sync_manager.Queue()
    raises_exact(queue.Empty, q.get, False)
    raises_exact(queue.Empty, q.get, block=False)
    raises_exact(queue.Empty, q.get_nowait)
    raises_exact(queue.Empty, q.get, False, 5)  # non-blocking ignores the timeout
    for args, kwds in (((True, 0.2), {}), ((), {"timeout": 0.2}), ((), {"block": True, "timeout": 0.2})):
        err, took = timed(q.get, *args, **kwds)
        assert err is queue.Empty, (args, kwds)
        assert 0.15 <= took < 2.0, (args, kwds, took)


def test_maxsize_and_full(sync_manager):
    q = sync_manager.Queue(2)
    q.put(1)
    q.put(2)
    assert q.full() and q.qsize() == 2
    raises_exact(queue.Full, q.put, 3, False)
    raises_exact(queue.Full, q.put, 3, block=False)
    raises_exact(queue.Full, q.put_nowait, 3)
    for args, kwds in (((3, True, 0.2), {}), ((3,), {"timeout": 0.2})):
        err, took = timed(q.put, *args, **kwds)
        assert err is queue.Full
        assert 0.15 <= took < 2.0, took
    assert q.get() == 1
    q.put(3, timeout=0.2)
    assert [q.get(), q.get()] == [2, 3]


def test_negative_timeouts(sync_manager):
    q = sync_manager.Queue()
    q.put("waiting")
    # get: ValueError even when an item is waiting (blocking form).
    err = raises_exact(ValueError, q.get, timeout=-1)
    assert str(err) == "'timeout' must be a non-negative number"
    raises_exact(ValueError, q.get, True, -0.5)
    # Non-blocking ignores the timeout.
    assert q.get(False, -1) == "waiting"
    # put: an unbounded queue ignores the timeout; a bounded one checks it.
    q.put("x", timeout=-1)
    assert q.get() == "x"
    bounded = sync_manager.Queue(1)
    err = raises_exact(ValueError, bounded.put, "x", timeout=-1)
    assert str(err) == "'timeout' must be a non-negative number"
    assert bounded.empty()


def test_bad_arguments_are_type_errors(sync_manager):
    q = sync_manager.Queue()
    with pytest.raises(TypeError):
        q.put()
    with pytest.raises(TypeError):
        q.get(True, 1, 2)
    with pytest.raises(TypeError):
        q.get(nonsense=1)
    assert q.empty()


def test_blocking_get_is_woken_by_a_put_from_another_thread(sync_manager):
    q = sync_manager.Queue()
    getter = in_thread(q.get, True, 10)
    # The other thread blocks on its own serving connection; ours is free.
    assert q.qsize() == 0
    q.put("wake up")
    result, error = getter.join()
    assert error is None and result == "wake up"


def test_blocking_put_is_woken_by_a_get_from_another_thread(sync_manager):
    q = sync_manager.Queue(1)
    q.put("first")
    putter = in_thread(q.put, "second", True, 10)
    assert q.get(timeout=5) == "first"
    result, error = putter.join()
    assert error is None
    assert q.get(timeout=5) == "second"


def _child_get(q, out):
    out.put(("child got", q.get(timeout=10)))


def test_blocking_get_across_processes(sync_manager):
    q = sync_manager.Queue()
    out = sync_manager.Queue()
    child = fork_context().Process(target=_child_get, args=(q, out))
    child.start()
    try:
        q.put({"from": "parent"})
        assert out.get(timeout=10) == ("child got", {"from": "parent"})
    finally:
        child.join(10)
    assert child.exitcode == 0


def test_joinable_queue_join_waits_for_task_done(sync_manager):
    jq = sync_manager.JoinableQueue()
    jq.put("a")
    jq.put("b")
    done_at = []

    def worker():
        for _ in range(2):
            jq.get(timeout=5)
            time.sleep(0.1)
            done_at.append(time.monotonic())
            jq.task_done()

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    jq.join()
    joined_at = time.monotonic()
    t.join(5)
    assert len(done_at) == 2 and joined_at >= done_at[-1]
    jq.join()  # nothing unfinished: returns at once
    err = raises_exact(ValueError, jq.task_done)
    assert str(err) == "task_done() called too many times"
