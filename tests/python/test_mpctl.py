"""``mpctl``, the admin command line, against the real manager binary while
an unmodified CPython client uses it.

Each command's table and ``--json`` output is checked against what the
client did (sizes, ``repr()`` previews: CPython defines those) and against
the admin HTTP API it wraps; the error paths (no token, wrong token,
unknown id, named object, unreachable manager) must exit 1 with a message
saying what to do.
"""

import json
import multiprocessing
import os
import queue
import subprocess
import threading
import time
from multiprocessing.managers import BaseManager, SyncManager

import pytest

from _browser import TOKEN, admin_address, request, start_with_admin, wait_until
from conftest import cargo_bin

NAMED = '[objects]\nget_queue = { kind = "Queue" }\n'


@pytest.fixture
def admin(manager_factory):
    """(manager, admin address, connected SyncManager)."""
    m = start_with_admin(manager_factory, config=NAMED)
    multiprocessing.current_process().authkey = m.authkey
    client = SyncManager(address=m.address, authkey=m.authkey)
    client.connect()
    return m, admin_address(m), client


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("MPCLUSTER_", "MPCTL_"))}


def mpctl(addr, *args, token=TOKEN, check=True, env=None):
    """Runs mpctl; returns the CompletedProcess (asserting exit 0 unless
    ``check`` is false). The token goes through the environment, as
    operators are told to pass it."""
    full_env = clean_env()
    if token is not None:
        full_env["MPCLUSTER_ADMIN_TOKEN"] = token
    full_env.update(env or {})
    r = subprocess.run(
        [str(cargo_bin("mpctl")), "--admin", f"http://{addr}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=full_env,
    )
    if check:
        assert r.returncode == 0, f"mpctl {' '.join(args)} failed ({r.returncode}): {r.stderr}"
    return r


def table(text):
    """Rows of an mpctl table as dicts keyed by the header's titles (cells
    are separated by two or more spaces; the trailing count line is
    dropped)."""
    import re

    lines = [line for line in text.splitlines() if line.strip()]
    header = re.split(r"\s{2,}", lines[0].strip())
    rows = []
    for line in lines[1:]:
        if re.fullmatch(r"\d+ \w+", line.strip()):
            continue
        cells = re.split(r"\s{2,}", line.strip())
        rows.append(dict(zip(header, cells)))
    return rows


def test_objects_table_and_json(admin):
    m, addr, client = admin
    lst = client.list([1, 2, 3])
    dct = client.dict(a=1, b=2)
    q = client.Queue()
    for i in range(4):
        q.put(i)

    rows = {r["ID"]: r for r in table(mpctl(addr, "objects").stdout)}
    assert rows[lst._token.id]["TYPEID"] == "list"
    assert rows[lst._token.id]["SIZE"] == str(len([1, 2, 3]))
    assert rows[dct._token.id]["SIZE"] == "2"
    assert rows[q._token.id]["TYPE"] == "Queue"
    assert rows[q._token.id]["SIZE"] == "4"
    assert rows[lst._token.id]["REFS"] == "1"
    named = [r for r in rows.values() if r["TYPEID"] == "get_queue"]
    assert len(named) == 1 and named[0].get("FLAGS") == "named"

    as_json = json.loads(mpctl(addr, "--json", "objects").stdout)
    api = request(addr, "/api/v1/objects").json()
    assert [o["id"] for o in as_json] == [o["id"] for o in api]
    assert set(rows) == {o["id"] for o in api}

    only_lists = json.loads(mpctl(addr, "objects", "--typeid", "list", "--json").stdout)
    assert [o["id"] for o in only_lists] == [lst._token.id]
    # Nothing is an orphan while its client is connected.
    assert json.loads(mpctl(addr, "objects", "--orphans", "--json").stdout) == []


def test_inspect_shows_the_cpython_repr(admin):
    m, addr, client = admin
    value = [1, "two", 3.5, None, {"k": (1, 2)}]
    lst = client.list(value)
    out = mpctl(addr, "inspect", lst._token.id).stdout
    assert f"id:           {lst._token.id}\n" in out
    assert "refcount:     1\n" in out
    assert out.endswith(f"preview:\n  {value!r}\n")
    detail = json.loads(mpctl(addr, "inspect", lst._token.id, "--json").stdout)
    assert detail["preview"] == repr(value)
    assert detail["size"] == len(value)

    r = mpctl(addr, "inspect", "no-such-id", check=False)
    assert r.returncode == 1
    assert r.stdout == ""
    assert 'mpctl: no object with id "no-such-id" (HTTP 404)' in r.stderr


def test_clients_and_stats(admin):
    m, addr, client = admin
    # A proxy opens its serving connection at its first method call.
    lst = client.list()
    lst.append(1)
    rows = table(mpctl(addr, "clients").stdout)
    api = request(addr, "/api/v1/connections").json()
    assert rows and api
    assert [int(r["ID"]) for r in rows] == [c["id"] for c in api]
    assert all(r["AUTH"] == "yes" for r in rows)
    assert any(r["NAME"] == "MainProcess" for r in rows), rows
    assert json.loads(mpctl(addr, "connections", "--json").stdout)[0]["id"] == api[0]["id"]

    stats = json.loads(mpctl(addr, "stats", "--json").stdout)
    assert stats["objects"] == len(request(addr, "/api/v1/objects").json())
    assert stats["advertised"] == f"{m.address[0]}:{m.address[1]}"
    text = mpctl(addr, "stats").stdout
    assert f"advertised:          {m.address[0]}:{m.address[1]}\n" in text
    assert f"objects:             {stats['objects']}\n" in text


def test_delete(admin):
    m, addr, client = admin
    lst = client.list(["gone soon"])
    r = mpctl(addr, "delete", lst._token.id)
    assert r.stdout == f"deleted object {lst._token.id} (list, refcount 1)\n"
    assert lst._token.id not in {o["id"] for o in request(addr, "/api/v1/objects").json()}
    # The client's proxy names nothing now (CPython's server: KeyError).
    with pytest.raises(Exception) as err:
        lst.append(1)
    assert "KeyError" in str(err.value)

    r = mpctl(addr, "delete", lst._token.id, check=False)
    assert r.returncode == 1 and "HTTP 404" in r.stderr

    named = next(o for o in request(addr, "/api/v1/objects").json() if o["named"])
    r = mpctl(addr, "delete", named["id"], check=False)
    assert r.returncode == 1
    assert "named object" in r.stderr and "HTTP 409" in r.stderr


def test_drop_client_cancels_a_blocked_call(admin):
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
        lambda: [r for r in table(mpctl(addr, "clients").stdout) if r.get("WAITING", "-") != "-"],
        what="the consumer to block in Queue.get",
    )
    assert q._token.id in blocked[0]["WAITING"]
    r = mpctl(addr, "drop-client", blocked[0]["ID"])
    assert r.stdout.startswith(f"dropped connection {blocked[0]['ID']} (127.0.0.1:")
    t.join(10)
    assert not t.is_alive()
    assert isinstance(outcome.get("error"), (EOFError, ConnectionError, OSError)), outcome
    r = mpctl(addr, "drop-client", "999999", check=False)
    assert r.returncode == 1 and "no open connection with id 999999" in r.stderr


def watch(addr, *args):
    """Starts ``mpctl watch``; returns it once subscribed (its stderr line
    is printed after the server answered, which is after it subscribed)."""
    env = dict(clean_env(), MPCLUSTER_ADMIN_TOKEN=TOKEN)
    p = subprocess.Popen(
        [str(cargo_bin("mpctl")), "--admin", addr, "watch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = p.stderr.readline()
    assert line.startswith("watching events at "), line + p.stderr.read()
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in p.stdout], daemon=True).start()
    return p, lines


def next_matching(lines, predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if predicate(line):
            return line
    raise AssertionError("the expected event did not arrive")


def test_watch_follows_events(admin):
    m, addr, client = admin
    p, lines = watch(addr, "--json")
    try:
        lst = client.list()
        oid = lst._token.id
        created = json.loads(next_matching(lines, lambda line: oid in line))
        assert created["kind"] == "object_created" and created["typeid"] == "list"
        del lst
        disposed = json.loads(next_matching(lines, lambda line: oid in line))
        assert disposed["kind"] == "object_disposed"
    finally:
        p.kill()
        p.wait()

    # The readable form: `AT  KIND  key=value ...`.
    p, lines = watch(addr)
    try:
        d = client.dict()
        line = next_matching(lines, lambda line: f"id={d._token.id}" in line)
        assert line.rstrip("\n").split("  ")[1:] == ["object_created", f"id={d._token.id}", "typeid=dict"]
    finally:
        p.kill()
        p.wait()

    # --count ends the command by itself (creating an object opens and
    # closes a connection first: that is the one event).
    p, lines = watch(addr, "--count", "1")
    try:
        client.list()
        assert p.wait(10) == 0
        assert next_matching(lines, lambda line: True).split("  ")[1] == "client_connected"
        assert lines.empty()
    finally:
        p.kill()
        p.wait()


def test_token_errors_are_clear(admin, tmp_path):
    m, addr, client = admin
    r = mpctl(addr, "objects", token=None, check=False)
    assert r.returncode == 1 and r.stdout == ""
    assert "no admin token: pass --token, set MPCLUSTER_ADMIN_TOKEN, or --token-file" in r.stderr

    r = mpctl(addr, "objects", token="not-the-token", check=False)
    assert r.returncode == 1
    assert "refused the token (HTTP 401)" in r.stderr

    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    r = mpctl(addr, "--token-file", str(f), "stats", "--json", token=None)
    assert json.loads(r.stdout)["version"]
    r = mpctl(addr, "--token-file", str(f), "stats", check=False)
    assert r.returncode == 1 and "not both" in r.stderr

    # The health probe needs no token.
    assert mpctl(addr, "health", token=None).stdout == "ready\n"


def test_unreachable_manager(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    for args in (["health"], ["objects"]):
        r = mpctl(f"127.0.0.1:{port}", *args, check=False)
        assert r.returncode == 1
        assert f"cannot reach the admin API at http://127.0.0.1:{port}/" in r.stderr


def test_named_queue_shows_its_depth(admin):
    m, addr, client = admin

    class QueueManager(BaseManager):
        pass

    QueueManager.register("get_queue")
    qm = QueueManager(address=m.address, authkey=m.authkey)
    qm.connect()
    qm.get_queue().put("a")
    qm.get_queue().put("b")
    row = next(r for r in table(mpctl(addr, "objects").stdout) if r["TYPEID"] == "get_queue")
    assert row["SIZE"] == "2"
    assert row["FLAGS"] == "named"


def test_health_wait_polls_until_the_manager_serves(manager_factory):
    """``mpctl health --wait`` (what the README runs right after starting a
    container) keeps asking while nothing listens yet, succeeds once the
    manager is up, and gives up with exit 1 after the wait."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    started = time.monotonic()
    r = mpctl(f"127.0.0.1:{port}", "health", "--wait", "1s", token=None, check=False)
    assert r.returncode == 1 and time.monotonic() - started >= 1.0, r
    waiting = subprocess.Popen(
        [str(cargo_bin("mpctl")), "--admin", f"http://127.0.0.1:{port}", "health", "--wait", "20s"],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        time.sleep(0.5)  # it is polling a port where nothing listens
        assert waiting.poll() is None
        manager_factory(env={"MPCLUSTER_ADMIN_BIND": f"127.0.0.1:{port}"})
        assert waiting.wait(20) == 0
        assert waiting.stdout.read() == "ready\n"
    finally:
        waiting.kill()
