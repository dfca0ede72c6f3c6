"""Shared fixtures of the CPython interop suite.

The tests drive the project's real binaries (built by ``scripts/test``) with
unmodified CPython code. Other CPython versions come from pyenv and are found
by globbing; a missing one is skipped with a message naming it.
"""

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Versions the suite runs cross-version clients with, besides the venv's own.
WANTED_VERSIONS = ("3.8", "3.11", "3.12", "3.13")


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def cargo_bin(name: str, example: bool = False) -> Path:
    """Path of a binary (or example) that ``scripts/test`` has built."""
    sub = "debug/examples" if example else "debug"
    path = target_dir() / sub / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run ./scripts/test (it builds binaries and examples first)")
    return path


def find_python(version: str):
    """The interpreter for ``version`` (e.g. ``"3.12"``), or None."""
    if sys.version_info[:2] == tuple(int(x) for x in version.split(".")):
        return sys.executable
    roots = []
    try:
        roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    roots.append(os.path.expanduser("~/.pyenv"))
    for root in roots:
        hits = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python3")))
        if hits:
            return hits[-1]
    return None


@pytest.fixture(params=WANTED_VERSIONS)
def client_python(request):
    """Each wanted CPython version's interpreter; skipped, by name, when absent."""
    exe = find_python(request.param)
    if exe is None:
        pytest.skip(f"CPython {request.param} is not installed (looked in pyenv versions)")
    return exe
