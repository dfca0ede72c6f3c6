"""The admin HTTP API, read with urllib while unmodified CPython clients use
the manager.

Where CPython defines the answer (reference counts, the ``str`` of each
referent), the admin view is compared with what CPython's own server reports
through ``debug_info`` for the same client actions. The rest (access control,
deleting objects, dropping connections, leaked objects of dead clients) is
mpcluster's own surface.
"""

import multiprocessing
import pickle
import re
import threading
from multiprocessing.managers import SyncManager

import pytest

from _browser import TOKEN, admin_address, request, start_with_admin, wait_until
from conftest import run_client


@pytest.fixture
def admin(manager_factory):
    """(manager, admin address, connected SyncManager)."""
    m = start_with_admin(manager_factory)
    multiprocessing.current_process().authkey = m.authkey
    client = SyncManager(address=m.address, authkey=m.authkey)
    client.connect()
    return m, admin_address(m), client


def objects(addr):
    reply = request(addr, "/api/v1/objects")
    assert reply.status == 200, reply.body
    return {o["id"]: o for o in reply.json()}


def scenario(manager):
    """The same client actions for both servers; returns the proxies."""
    lst = manager.list([1, 2, 3])
    dct = manager.dict(a=1)
    q = manager.Queue()
    q.put("x")
    q.put("y")
    ns = manager.Namespace()
    ns.value = 1.5
    # A second proxy of the same list, rebuilt from its pickle: refcount 2.
    lst2 = pickle.loads(pickle.dumps(lst))
    return [lst, dct, q, ns, lst2]


def cpython_debug_info():
    """{str(referent)[:75] (addresses blanked): refcount} from CPython's own
    server after ``scenario``."""
    # The process authkey, so the rebuilt proxy can authenticate.
    ref = SyncManager(authkey=multiprocessing.current_process().authkey)
    ref.start()
    try:
        keep = scenario(ref)
        info = ref._debug_info()
        del keep
    finally:
        ref.shutdown()
    return {
        re.sub(r" at 0x[0-9a-f]+", "", text): int(count)
        for count, text in re.findall(r"refcount=(\d+)\n    (.*)", info)
    }


def test_refcounts_and_previews_match_cpython(admin):
    m, addr, client = admin
    expected = cpython_debug_info()
    keep = scenario(client)
    got = {}
    for oid in objects(addr):
        o = request(addr, f"/api/v1/objects/{oid}").json()
        got[o["preview"][:75]] = o["refcount"]
    assert got == expected
    assert got["[1, 2, 3]"] == 2
    del keep


def test_objects_of_cpython_clients(admin):
    m, addr, client = admin
    lst = client.list(range(5))
    q = client.Queue()
    for i in range(3):
        q.put(i)
    d = client.dict({"k": "<script>alert(1)</script>"})
    listed = objects(addr)
    lo, qo, do = listed[lst._token.id], listed[q._token.id], listed[d._token.id]
    assert (lo["typeid"], lo["type_name"], lo["size"], lo["refcount"]) == ("list", "list", 5, 1)
    assert (qo["typeid"], qo["type_name"], qo["size"]) == ("Queue", "Queue", 3)
    assert (do["typeid"], do["size"]) == ("dict", 1)
    assert not any(o["orphan"] for o in listed.values())
    # The queue's serving connection (this process, main thread) is listed.
    conns = {c["id"]: c for c in request(addr, "/api/v1/connections").json()}
    assert qo["conns"] and all(c["open"] for c in qo["conns"])
    assert conns[qo["conns"][0]["id"]]["name"] == "MainProcess"

    detail = request(addr, f"/api/v1/objects/{d._token.id}").json()
    assert detail["preview"] == repr(d.copy()) == "{'k': '<script>alert(1)</script>'}"

    # Dropping the last proxy disposes of the object, as in CPython.
    lid = lst._token.id
    del lst
    assert lid not in objects(addr)
    assert request(addr, f"/api/v1/objects/{lid}").status == 404

    stats = request(addr, "/api/v1/stats").json()
    assert stats["objects"] == 2
    assert stats["objects_referenced"] == client._number_of_objects() == 2


def test_access_needs_the_token(admin):
    m, addr, _ = admin
    for path in ("/api/v1/objects", "/api/v1/stats", "/metrics", "/api/v1/openapi.json"):
        for token in (None, "wrong", TOKEN + "x"):
            reply = request(addr, path, token=token)
            assert reply.status == 401, (path, token)
            assert "token" in reply.json()["error"]
    health = request(addr, "/healthz", token=None)
    assert (health.status, health.body) == (200, "ok")
    assert request(addr, "/readyz", token=None).status == 200
    # The authkey appears in no answer and the token in no log line.
    key = m.authkey.decode()
    for path in ("/api/v1/stats", "/api/v1/connections", "/metrics", "/api/v1/objects"):
        assert key not in request(addr, path).body
    assert TOKEN not in m.log()


def test_metrics_and_openapi(admin):
    m, addr, client = admin
    keep = [client.list(), client.list(), client.Event()]
    metrics = request(addr, "/metrics")
    assert metrics.status == 200
    assert 'mpcluster_objects{typeid="list"} 2' in metrics.body
    assert 'mpcluster_objects{typeid="Event"} 1' in metrics.body
    doc = request(addr, "/api/v1/openapi.json").json()
    assert {"/api/v1/objects", "/api/v1/objects/{id}", "/api/v1/connections/{id}"} <= set(doc["paths"])
    del keep


def test_delete_object_of_a_live_client(admin):
    m, addr, client = admin
    lst = client.list([1])
    gone = request(addr, f"/api/v1/objects/{lst._token.id}", method="DELETE")
    assert gone.status == 200 and gone.json()["refcount"] == 1
    # The client's proxy now names nothing: CPython's server answers an
    # unknown id with a KeyError in a RemoteError traceback.
    with pytest.raises(Exception) as err:
        lst.append(2)
    assert "KeyError" in str(err.value)
    assert request(addr, f"/api/v1/objects/{lst._token.id}", method="DELETE").status == 404


def test_drop_a_blocked_connection(admin):
    m, addr, client = admin
    q = client.Queue()
    outcome = {}

    def consumer():
        try:
            outcome["item"] = q.get(timeout=30)
        except BaseException as e:  # the dropped connection surfaces here
            outcome["error"] = e

    t = threading.Thread(target=consumer, name="consumer")
    t.start()
    blocked = wait_until(
        lambda: [c for c in request(addr, "/api/v1/connections").json() if c["waiting"]],
        what="the consumer to block in Queue.get",
    )
    assert blocked[0]["name"] == "MainProcess|consumer"
    assert q._token.id in blocked[0]["waiting"]
    assert request(addr, f"/api/v1/connections/{blocked[0]['id']}", method="DELETE").status == 200
    t.join(10)
    assert not t.is_alive()
    assert "item" not in outcome
    assert isinstance(outcome["error"], (EOFError, ConnectionError, OSError)), outcome
    # The queue itself lives on for other clients.
    q.put(1)
    assert q.get(timeout=5) == 1
    assert request(addr, "/api/v1/connections/999999", method="DELETE").status == 404


LEAK = r"""
import os
from multiprocessing.managers import SyncManager
m = SyncManager(address=ADDRESS, authkey=AUTHKEY)
m.connect()
lst = m.list(["leaked"])
lst.append(sys.version_info[:2])
print(lst._token.id, flush=True)
os._exit(0)  # no finalizers: the reference is never released
"""


def test_leaked_objects_of_dead_clients_are_visible_and_deletable(admin, client_python):
    m, addr, client = admin
    lid = run_client(client_python, LEAK, m).strip()
    leaked = objects(addr)[lid]
    assert leaked["refcount"] == 1
    assert leaked["conns"] and not any(c["open"] for c in leaked["conns"])
    preview = request(addr, f"/api/v1/objects/{lid}").json()["preview"]
    assert preview.startswith("['leaked', (")
    before = client._number_of_objects()
    assert request(addr, f"/api/v1/objects/{lid}", method="DELETE").status == 200
    assert client._number_of_objects() == before - 1


def test_events_stream(admin):
    m, addr, client = admin
    import http.client
    import json

    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {TOKEN}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("content-type").startswith("text/event-stream")
    ev = client.Event()
    seen = []
    while not any(e.get("id") == ev._token.id for e in seen):
        line = resp.fp.readline().decode()
        if line.startswith("data:"):
            seen.append(json.loads(line[5:]))
    created = [e for e in seen if e.get("id") == ev._token.id][0]
    assert created["kind"] == "object_created" and created["typeid"] == "Event"
    conn.close()


def test_remote_admin_needs_a_configured_token(manager_factory):
    with pytest.raises(RuntimeError) as err:
        manager_factory(env={"MPCLUSTER_ADMIN_BIND": "0.0.0.0:0", "MPCLUSTER_ADMIN_TOKEN": ""})
    # An empty token counts as unset: refused, with the reason in the log.
    assert "not a loopback address, without a configured token" in str(err.value)

