"""Nothing is stalled by Nagle against delayed ACK (docs/protocol.md 2.2a).

A CPython client opens three fresh, mutually authenticated connections per
shared object (create, incref, decref; docs/protocol.md 5.6) and one more when the proxy
is dropped. CPython's own server writes each frame's length and body in two
``send`` calls, and on loopback that stalls every exchange on the client's
delayed ACK: about 80-130 ms per create+drop. These are behavioural checks
that mpcluster's server does not stall (TCP_NODELAY, one write per frame),
with bounds far above what a non-stalling server needs and far below a
stalled one; they are not benchmarks.
"""

import gc
import statistics
import time

import pytest

from _mgr import connect, control, manager, manager_factory, mpcluster_only  # noqa: F401


def average_ms(fn, n):
    fn()  # warm-up: the serving connection, imports
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) * 1000 / n


@mpcluster_only("CPython's own server stalls ~80-130 ms per create+drop")
def test_create_and_drop_is_fast(manager):
    m = connect(manager)

    def create_and_drop():
        p = m.list()
        # No cycle: dropping the last reference runs the proxy's decref
        # finalizer at once (gc.collect() would only add its own cost).
        del p

    base = control(manager, "number_of_objects")
    avg = average_ms(create_and_drop, 50)
    gc.collect()
    assert control(manager, "number_of_objects") == base  # really dropped
    assert avg < 20, f"create+drop took {avg:.1f} ms on average"


@mpcluster_only("CPython's own server stalls on every control connection")
def test_control_requests_are_fast(manager):
    avg = average_ms(lambda: control(manager, "dummy"), 50)
    assert avg < 10, f"a control request took {avg:.1f} ms on average"


def test_method_calls_on_a_serving_connection_are_fast(manager):
    l = connect(manager).list([1, 2, 3])
    # Requests on a serving connection are small single writes from the
    # client; a server that split its replies would stall here too.
    avg = average_ms(lambda: len(l), 200)
    assert avg < 5, f"a method call took {avg:.2f} ms on average"


@mpcluster_only("CPython's own server stalls ~88 ms per call with such payloads")
@pytest.mark.parametrize("size", [16_385, 20_000, 60_000])
def test_requests_over_16_kib_are_not_stalled(manager, size):
    # Over 16 KiB a CPython client writes a frame's header and payload in
    # two sends (Connection._send_bytes), and Nagle holds the payload back
    # until the header is acknowledged: a server that delays that ACK adds
    # ~40 ms to every such request (44 ms measured before the server
    # acknowledged partial frames at once). Up to one loopback segment
    # (64 KiB) nothing else makes the client's kernel send it sooner.
    l = connect(manager).list()
    payload = b"x" * size
    times = []
    for _ in range(11):
        started = time.perf_counter()
        l.append(payload)
        times.append((time.perf_counter() - started) * 1000)
    assert len(l) == 11 and l[10] == payload
    median = statistics.median(times)
    assert median < 20, f"a {size}-byte append took {median:.1f} ms (median)"
