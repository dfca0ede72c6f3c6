"""The docker-compose deployment, end to end: stage a FROM-scratch image
context from the project's binaries (deploy/stage-rootfs), start the
repository's own docker-compose.yml under a project name and host ports of
its own, drive the container with an unmodified CPython client, read the
objects back through the container's admin HTTP API and mpctl, and tear
everything down (containers, network, image) even when a test fails.

To keep the suite fast the image is built from the DEBUG binaries that
``scripts/test`` already built (stripped of debug info while staging), not
from a release build; the image is otherwise the one users get.

Needs a Docker engine and Compose (``docker compose`` v2 or
``docker-compose`` 1.29); without them every test here is skipped with the
reason. The secrets take both documented routes at once: the authkey from a
file under the mounted secrets folder, the admin token from the environment.
"""

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from multiprocessing.managers import BaseManager, SyncManager

import pytest

from conftest import ROOT, cargo_bin

AUTHKEY = b"compose-test-authkey"
TOKEN = "compose-test-admin-token"


def compose_command():
    """(argv prefix, None) for the Compose tool present, or (None, reason)."""
    docker = shutil.which("docker")
    if docker is None:
        return None, "no 'docker' command on PATH"
    try:
        info = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return None, "the Docker engine did not answer 'docker info' within 30 s"
    if info.returncode != 0:
        return None, f"the Docker engine is not reachable: {info.stderr.strip()[:300]}"
    v2 = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if v2.returncode == 0:
        return [docker, "compose"], None
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return [legacy], None
    return None, "neither 'docker compose' (v2) nor 'docker-compose' (1.29) is installed"


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http(port, path, token=TOKEN, method="GET"):
    """(status, body) of one admin request; 4xx/5xx are returned."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Stack:
    """One compose project started from the repository's docker-compose.yml."""

    def __init__(self, compose, workdir):
        self.compose = compose
        self.project = f"mpctest{uuid.uuid4().hex[:10]}"
        self.port, self.admin_port = free_ports(2)
        self.context = workdir / "context"
        secrets = workdir / "secrets"
        secrets.mkdir()
        (secrets / "authkey").write_bytes(AUTHKEY + b"\n")
        # The container runs as nobody: the mounted folder and file must be
        # readable by it (pytest's tmp folders are private to root).
        secrets.chmod(0o755)
        (secrets / "authkey").chmod(0o644)
        values = {
            "MPCLUSTER_BUILD_DIR": str(self.context),
            "MPCLUSTER_SECRETS_DIR": str(secrets),
            "MPCLUSTER_PORT": str(self.port),
            "MPCLUSTER_ADMIN_PORT": str(self.admin_port),
            "MPCLUSTER_ADVERTISE": f"127.0.0.1:{self.port}",
            "MPCLUSTER_AUTHKEY_FILE": "/run/secrets/mpcluster/authkey",
            "MPCLUSTER_ADMIN_TOKEN": TOKEN,
            "MPCLUSTER_LOG": "info",
        }
        # An env file of our own: the repository's .env (a developer's
        # secrets) must not leak into the test, nor the test's into it.
        self.env_file = workdir / "compose.env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MPCLUSTER_", "MPCTL_", "COMPOSE_"))
        }
        self.env.update(values)

    def run(self, *args, timeout=120, check=True):
        argv = [
            *self.compose,
            "--env-file",
            str(self.env_file),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "-p",
            self.project,
            *args,
        ]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=ROOT)
        if check and r.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n{self.logs()}"
            )
        return r

    def logs(self):
        try:
            r = self.run("logs", "--no-color", timeout=30, check=False)
            return f"--- manager logs ---\n{r.stdout[-4000:]}{r.stderr[-1000:]}"
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"(no logs: {e})"

    def container(self):
        r = self.run("ps", "-q", "manager")
        cid = r.stdout.strip().splitlines()
        assert cid, f"no manager container\n{self.logs()}"
        return cid[-1]

    def wait_ready(self, timeout=60):
        """Until the published admin port answers /readyz (the data port is
        serving by then: the manager binds it before the admin surface
        reports ready)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                status, body = http(self.admin_port, "/readyz", token=None)
                if status == 200:
                    return
                last = f"{status} {body}"
            except (OSError, urllib.error.URLError) as e:
                last = e
            time.sleep(0.2)
        raise AssertionError(f"the manager did not become ready ({last})\n{self.logs()}")

    def down(self):
        self.run("down", "-v", "--rmi", "local", "--remove-orphans", "-t", "10", timeout=120, check=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    compose, reason = compose_command()
    if compose is None:
        pytest.skip(f"docker-compose deployment test skipped: {reason}")
    workdir = tmp_path_factory.mktemp("compose")
    st = Stack(compose, workdir)
    stage = subprocess.run(
        [
            str(ROOT / "deploy" / "stage-rootfs"),
            "--manager",
            str(cargo_bin("mpcluster-manager")),
            "--ctl",
            str(cargo_bin("mpctl")),
            "--out",
            str(st.context),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stage.returncode == 0, stage.stderr
    try:
        st.run("up", "-d", "--build", timeout=300)
        st.wait_ready()
        yield st
    finally:
        st.down()


@pytest.fixture
def client(stack):
    multiprocessing.current_process().authkey = AUTHKEY
    m = SyncManager(address=("127.0.0.1", stack.port), authkey=AUTHKEY)
    m.connect()
    return m


def objects(stack):
    status, body = http(stack.admin_port, "/api/v1/objects")
    assert status == 200, body
    return {o["id"]: o for o in json.loads(body)}


def test_cpython_client_objects_show_in_admin_api(stack, client):
    lst = client.list([1, 2, 3])
    lst.append("four")
    dct = client.dict(answer=42)
    q = client.Queue()
    q.put("job-1")
    q.put("job-2")
    # Tokens carry the advertised address (the published host port), so
    # every method call above already went host -> container through it.
    assert lst._token.address == ("127.0.0.1", stack.port)
    assert list(lst) == [1, 2, 3, "four"]
    assert dct["answer"] == 42

    seen = objects(stack)
    assert seen[lst._token.id]["typeid"] == "list"
    assert seen[lst._token.id]["size"] == 4
    assert seen[dct._token.id]["typeid"] == "dict"
    assert seen[q._token.id]["size"] == 2
    assert all(seen[p._token.id]["refcount"] == 1 for p in (lst, dct, q))

    status, body = http(stack.admin_port, f"/api/v1/objects/{lst._token.id}")
    assert status == 200, body
    assert json.loads(body)["preview"] == "[1, 2, 3, 'four']"

    status, body = http(stack.admin_port, "/api/v1/stats")
    assert status == 200, body
    assert json.loads(body)["advertised"] == f"127.0.0.1:{stack.port}"

    # Releasing the proxies disposes of the objects, as on CPython's server.
    ids = [p._token.id for p in (lst, dct, q)]
    del lst, dct, q
    assert not set(ids) & set(objects(stack))


def test_named_objects_from_the_mounted_config(stack):
    class QueueManager(BaseManager):
        pass

    QueueManager.register("get_queue")
    m = QueueManager(address=("127.0.0.1", stack.port), authkey=AUTHKEY)
    m.connect()
    m.get_queue().put("remote job")
    named = {o["typeid"]: o for o in objects(stack).values() if o["named"]}
    # deploy/named.toml declares exactly these three.
    assert set(named) == {"get_queue", "get_jobs", "get_state"}
    assert named["get_queue"]["size"] == 1
    assert m.get_queue().get() == "remote job"


def test_admin_token_is_required_and_authkey_enforced(stack):
    assert http(stack.admin_port, "/api/v1/objects", token=None)[0] == 401
    assert http(stack.admin_port, "/api/v1/objects", token="wrong")[0] == 401
    # Probes stay open.
    assert http(stack.admin_port, "/healthz", token=None) == (200, "ok")
    wrong = SyncManager(address=("127.0.0.1", stack.port), authkey=b"not-the-key")
    with pytest.raises(multiprocessing.AuthenticationError):
        wrong.connect()


def test_image_healthcheck_and_mpctl(stack, client):
    keep = client.list(["seen by mpctl"])
    cid = stack.container()
    deadline = time.monotonic() + 60
    health = None
    while time.monotonic() < deadline:
        r = subprocess.run(
            ["docker", "inspect", "--format", "{{json .State.Health}}", cid], capture_output=True, text=True
        )
        health = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() != "null" else None
        if health and health["Status"] == "healthy":
            break
        time.sleep(0.5)
    assert health and health["Status"] == "healthy", f"{health}\n{stack.logs()}"
    assert health["Log"][-1]["Output"].strip() == "ready"

    # The host's mpctl against the published admin port...
    r = subprocess.run(
        [str(cargo_bin("mpctl")), "--admin", f"127.0.0.1:{stack.admin_port}", "--json", "objects", "--typeid", "list"],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(stack.env, MPCLUSTER_ADMIN_TOKEN=TOKEN),
    )
    assert r.returncode == 0, r.stderr
    assert keep._token.id in {o["id"] for o in json.loads(r.stdout)}
    # ...and the image's own mpctl, which finds the token in the container's
    # environment (there is no shell: docker exec runs it directly).
    r = subprocess.run(
        ["docker", "exec", cid, "/usr/local/bin/mpctl", "inspect", keep._token.id],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert "preview:\n  ['seen by mpctl']" in r.stdout
