"""``Lock``, ``RLock``, ``Semaphore`` and ``BoundedSemaphore`` (AcquirerProxy)
against unmodified CPython clients (docs/protocol.md 9.6).

Each client thread has its own serving connection, and ownership follows
connections: an ``RLock`` is re-entrant on its owner's connection and cannot
be released from another thread, while ``Lock`` and semaphores have no owner.
Timeouts, non-blocking acquires, ``with`` blocks, and blocking acquires woken
by other threads and other processes.
"""

import time

import pytest

from _mgr import fork_context, in_thread, manager, manager_factory  # noqa: F401


def raises(exc_type, message, fn, *args, **kwds):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwds)
    assert type(info.value) is exc_type
    assert str(info.value) == message


def timed_acquire(lock, *args, **kwds):
    started = time.monotonic()
    got = lock.acquire(*args, **kwds)
    return got, time.monotonic() - started


def test_lock_acquire_release_and_timeouts(sync_manager):
    lock = sync_manager.Lock()
    assert lock.acquire() is True
    assert lock.acquire(False) is False  # not re-entrant, even on its own connection
    assert lock.acquire(blocking=False) is False
    got, took = timed_acquire(lock, timeout=0.2)
    assert got is False and 0.15 <= took < 2.0
    got, took = timed_acquire(lock, True, 0.2)
    assert got is False and 0.15 <= took < 2.0
    lock.release()
    raises(RuntimeError, "release unlocked lock", lock.release)
    assert lock.acquire(timeout=0.2) is True
    lock.release()
    with lock:
        assert lock.acquire(False) is False
    assert lock.acquire(False) is True
    lock.release()


def test_lock_argument_errors(sync_manager):
    lock = sync_manager.Lock()
    raises(ValueError, "can't specify a timeout for a non-blocking call", lock.acquire, False, 1)
    raises(ValueError, "timeout value must be positive", lock.acquire, timeout=-2)
    # -1 means "no timeout".
    assert lock.acquire(True, -1) is True
    lock.release()


def test_lock_held_by_one_thread_blocks_and_can_be_released_by_another(sync_manager):
    lock = sync_manager.Lock()
    assert lock.acquire()
    # Another thread (its own connection) cannot take it...
    result, _ = in_thread(lock.acquire, True, 0.2).join()
    assert result is False
    # ...but may release it: a Lock has no owner.
    _, error = in_thread(lock.release).join()
    assert error is None
    assert lock.acquire(False) is True
    # A blocked acquire in another thread is woken by our release.
    waiter = in_thread(lock.acquire, True, 10)
    lock.release()
    result, error = waiter.join()
    assert error is None and result is True
    assert lock.acquire(False) is False
    lock.release()


def test_rlock_is_owned_by_the_acquiring_connection(sync_manager):
    rlock = sync_manager.RLock()
    assert rlock.acquire() and rlock.acquire() and rlock.acquire(False)
    # Other threads can neither acquire nor release it.
    assert in_thread(rlock.acquire, False).join() == (False, None)
    assert in_thread(rlock.acquire, True, 0.2).join() == (False, None)
    _, error = in_thread(rlock.release).join()
    assert type(error) is RuntimeError and str(error) == "cannot release un-acquired lock"
    rlock.release()
    rlock.release()
    assert in_thread(rlock.acquire, False).join() == (False, None)
    rlock.release()
    raises(RuntimeError, "cannot release un-acquired lock", rlock.release)
    # Free now: another thread takes it, and then we cannot.
    holder_took = in_thread(rlock.acquire, False).join()
    assert holder_took == (True, None)
    assert rlock.acquire(False) is False
    raises(RuntimeError, "cannot release un-acquired lock", rlock.release)


def test_rlock_with_block_and_argument_errors(sync_manager):
    rlock = sync_manager.RLock()
    with rlock:
        with rlock:
            assert in_thread(rlock.acquire, False).join() == (False, None)
    assert in_thread(rlock.acquire, False).join() == (True, None)
    raises(ValueError, "can't specify a timeout for a non-blocking call", rlock.acquire, False, 1)
    raises(ValueError, "timeout value must be positive", rlock.acquire, timeout=-2)


def test_semaphore_counts_and_has_no_owner(sync_manager):
    sem = sync_manager.Semaphore(2)
    assert sem.acquire() and sem.acquire(timeout=1)
    assert sem.acquire(False) is False
    got, took = timed_acquire(sem, timeout=0.2)
    assert got is False and 0.15 <= took < 2.0
    # Released by another thread; a plain Semaphore may go above its start.
    assert in_thread(sem.release).join() == (None, None)
    sem.release()
    sem.release()
    assert [sem.acquire(False) for _ in range(4)] == [True, True, True, False]
    raises(ValueError, "can't specify timeout for non-blocking acquire", sem.acquire, False, 1)
    default = sync_manager.Semaphore()
    with default:
        assert default.acquire(False) is False
    assert default.acquire(False) is True


def test_bounded_semaphore_over_release(sync_manager):
    bsem = sync_manager.BoundedSemaphore(1)
    raises(ValueError, "Semaphore released too many times", bsem.release)
    assert bsem.acquire(False) is True
    assert bsem.acquire(False) is False
    bsem.release()
    raises(ValueError, "Semaphore released too many times", bsem.release)
    two = sync_manager.BoundedSemaphore(2)
    waiter_a = in_thread(two.acquire, True, 10)
    waiter_b = in_thread(two.acquire, True, 10)
    assert waiter_a.join() == (True, None) and waiter_b.join() == (True, None)
    waiter_c = in_thread(two.acquire, True, 10)
    two.release()
    assert waiter_c.join() == (True, None)


def _hold_lock(lock, held, go):
    lock.acquire()
    held.set()
    go.wait(10)
    lock.release()


def test_lock_across_processes(sync_manager):
    lock = sync_manager.Lock()
    held, go = sync_manager.Event(), sync_manager.Event()
    child = fork_context().Process(target=_hold_lock, args=(lock, held, go))
    child.start()
    try:
        assert held.wait(10)
        assert lock.acquire(False) is False
        waiter = in_thread(lock.acquire, True, 10)
        go.set()
        assert waiter.join() == (True, None)
    finally:
        go.set()
        child.join(10)
    assert child.exitcode == 0
    lock.release()
