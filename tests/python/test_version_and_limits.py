"""What a newcomer sees first: ``--version`` of both binaries names the
release and the git commit it was built from, and a default start fits the
host's open-file limit without a warning (the ``--max-connections`` default
follows the hard limit), while a cap set past that limit is warned about."""

import re
import resource
import subprocess

import pytest

from conftest import ROOT, cargo_bin

SPARE, ADMIN_DEFAULT = 32, 256
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def workspace_version():
    text = (ROOT / "Cargo.toml").read_text()
    return re.search(r'^\[workspace\.package\][^\[]*?^version = "([^"]+)"', text, re.M | re.S).group(1)


@pytest.mark.parametrize("binary", ["mpcluster-manager", "mpctl"])
def test_version_names_the_release_and_the_commit(binary):
    out = subprocess.run([str(cargo_bin(binary)), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    m = re.fullmatch(rf"{binary} (\S+) \(commit ([0-9a-f]{{7,40}}|unknown)\)\n", out.stdout)
    assert m, out.stdout
    assert m.group(1) == workspace_version()
    inside_git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode == 0
    if inside_git:
        # A commit of this repository (HEAD may have moved since the build).
        exists = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", m.group(2) + "^{commit}"])
        assert exists.returncode == 0, f"{m.group(2)} is not a commit of this repository"


def log_of(manager):
    return _ANSI.sub("", manager.log())


def hard_limit_setter(hard):
    def preexec():  # in the manager's process, before it starts
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))

    return preexec


@pytest.mark.parametrize("hard", [4096, 20000])
def test_default_connection_cap_fits_the_hard_limit_without_a_warning(manager_factory, hard):
    """The figure is said at start, at info level; nothing is warned."""
    _, ours = resource.getrlimit(resource.RLIMIT_NOFILE)
    if ours != resource.RLIM_INFINITY and ours < hard:
        pytest.skip(f"this process's hard open-file limit {ours} is below {hard}")
    m = manager_factory(preexec_fn=hard_limit_setter(hard))
    log = log_of(m)
    want = hard - SPARE - ADMIN_DEFAULT
    assert re.search(rf"INFO .*connection caps.* max_connections={want} admin_max_connections=256 hard_limit={hard}", log), log
    assert not re.search(r"WARN .*open-file", log), log


def test_a_cap_past_the_hard_limit_is_warned_about(manager_factory):
    m = manager_factory("--max-connections", "5000", preexec_fn=hard_limit_setter(4096))
    log = log_of(m)
    assert re.search(
        r"WARN .*the open-file limit leaves room for about 4064 connections, fewer than --max-connections 5000", log
    ), log
