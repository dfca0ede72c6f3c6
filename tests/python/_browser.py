"""Helpers of the admin-surface tests (``test_admin*.py``): finding the
admin listener of a manager started by conftest, calling the HTTP API with
urllib, driving a headless Chromium, and checking a PNG screenshot with the
standard library only.

Chromium comes from Debian (``apt-get install -y chromium``; the project's
``scripts/setup-system`` installs it). When no browser is found the browser
tests skip with a message saying so.
"""

import json
import re
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections import Counter

import pytest

# The token the admin tests start managers with (passed explicitly through
# MPCLUSTER_ADMIN_TOKEN, whatever conftest's default is).
TOKEN = "admin-suite-token"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ADMIN_LINE = re.compile(r"admin listening addr=(\S+)")


def start_with_admin(manager_factory, *flags, token=TOKEN, **kw):
    """A manager with its admin surface on a free loopback port."""
    env = dict(kw.pop("env", {}) or {})
    env.update(MPCLUSTER_ADMIN_BIND="127.0.0.1:0", MPCLUSTER_ADMIN_TOKEN=token)
    return manager_factory(*flags, env=env, **kw)


def admin_address(manager):
    """``host:port`` of a manager's admin listener.

    conftest keeps only the stdout line announcing the data port, so this
    reads the log instead: the admin listener binds, and logs its address,
    before the data port's 'listening on' line is printed.
    """
    log = _ANSI.sub("", manager.log())
    m = _ADMIN_LINE.search(log)
    if m is None:
        raise AssertionError(f"no 'admin listening' line in the manager's log:\n{log[-2000:]}")
    return m.group(1)


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def request(addr, path, method="GET", token=TOKEN):
    """One admin HTTP request; 4xx/5xx answers are returned, not raised."""
    req = urllib.request.Request(f"http://{addr}{path}", method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Reply(resp.status, resp.headers, resp.read().decode())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read().decode())


def wait_until(predicate, timeout=10.0, what="condition"):
    """Polls ``predicate`` until it returns a true value (for server state
    no event announces, like a call becoming blocked)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# Headless Chromium

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_browser():
    path = find_browser()
    if path is None:
        pytest.skip(
            "no headless browser found (looked for "
            + ", ".join(BROWSERS)
            + "): install Debian's 'chromium' package (scripts/setup-system does)"
        )
    return path


def chromium(browser, url, *args, timeout=60):
    """Runs the browser headless on ``url`` with virtual time (the page's
    fetches and timers run, then it stops); returns stdout."""
    with tempfile.TemporaryDirectory(prefix="mpc-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",  # tests run as root in containers
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            *args,
            url,
        ]
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{browser} failed ({r.returncode}):\n{r.stderr.decode(errors='replace')[-3000:]}")
    return r.stdout.decode(errors="replace")


# ---------------------------------------------------------------------------
# PNG inspection (stdlib only)


def png_pixels(path):
    """(width, height, Counter of RGB colours) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise AssertionError(f"unexpected PNG format {header}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours = Counter()
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(ftype, line, prev, bpp)
        for x in range(0, stride, bpp * 4):  # every 4th pixel is plenty
            colours[bytes(line[x : x + 3])] += 1
        prev = line
    return width, height, colours


def _unfilter(ftype, line, prev, bpp):
    if ftype == 0:
        return
    n = len(line)
    if ftype == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif ftype == 2:
        for i in range(n):
            line[i] = (line[i] + prev[i]) & 0xFF
    elif ftype == 3:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif ftype == 4:
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pred) & 0xFF
    else:
        raise AssertionError(f"bad PNG filter type {ftype}")
