"""The admin web page in a real headless browser (Debian's Chromium).

A manager serves objects created by an unmodified CPython client; the
browser loads the page with the token in the URL fragment, runs its script
under virtual time (fetches and refresh timers included), and we check the
DOM it rendered and a screenshot of it. Skipped, with a message naming the
package, when no browser is installed.
"""

import multiprocessing
import re
from multiprocessing.managers import SyncManager

import pytest

from _browser import (
    TOKEN,
    admin_address,
    chromium,
    png_pixels,
    request,
    require_browser,
    start_with_admin,
)


@pytest.fixture
def page(manager_factory):
    """(browser, admin address, SyncManager client, proxies it created)."""
    browser = require_browser()
    m = start_with_admin(manager_factory, config='[objects]\nget_jobs = { kind = "Queue" }\n')
    multiprocessing.current_process().authkey = m.authkey
    client = SyncManager(address=m.address, authkey=m.authkey)
    client.connect()
    lst = client.list([1, 2, 3, "<b>not markup</b>"])
    q = client.Queue()
    q.put("job-1")
    q.put("job-2")
    d = client.dict(answer=42)
    return browser, admin_address(m), client, {"list": lst, "Queue": q, "dict": d}


def rows(dom, table):
    """The text of each cell of each body row of table #<table>."""
    body = re.search(rf'<table id="{table}">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert body, f"table {table} not rendered:\n{dom[:3000]}"
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)]


def test_page_lists_objects_and_connections(page):
    browser, addr, client, proxies = page
    dom = chromium(browser, f"http://{addr}/#token={TOKEN}", "--dump-dom")
    objects = {r[0]: r for r in rows(dom, "objects")}
    for typeid, proxy in proxies.items():
        row = objects.get(proxy._token.id)
        assert row is not None, f"{typeid} {proxy._token.id} missing from the page:\n{dom}"
        # id, typeid, type, refcount, size, memory, last used, named, orphan
        assert row[1] == typeid and row[3] == "1", row
        assert row[7:] == ["no", "no"], row
        # Every one of these kinds holds data: its memory is shown.
        assert re.fullmatch(r"\d+ B|\d+\.\d (KiB|MiB)", row[5]), row
    assert objects[proxies["list"]._token.id][4] == "4"
    assert objects[proxies["Queue"]._token.id][4] == "2"
    named = [r for r in objects.values() if r[1] == "get_jobs"]
    assert len(named) == 1 and named[0][7:] == ["yes", "no"], named
    # The stats panel shows the memory in use and the limit.
    stats = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", dom.split('id="stats"')[1].split("</dl>")[0]))
    assert re.fullmatch(r"\d+\.\d (KiB|MiB)", stats["memory used"]), stats
    assert re.fullmatch(r"\d+\.\d (MiB|GiB)", stats["memory limit"]), stats
    conns = rows(dom, "connections")
    assert any(r[2] == "MainProcess" for r in conns), conns
    assert re.search(r'id="status" class="status ok">updated', dom), "the refresh did not succeed"
    # The token left the address bar and never reached the DOM; once
    # connected, the sign-in form is hidden.
    assert TOKEN not in dom
    assert re.search(r'<form id="login"[^>]*\shidden', dom), login_form(dom)


def login_form(dom):
    m = re.search(r'<form id="login".*?</form>', dom, re.S)
    return m.group(0) if m else dom[:2000]


def header_cells(dom, table):
    head = re.search(rf'<table id="{table}">\s*<thead>(.*?)</thead>', dom, re.S)
    assert head, dom[:3000]
    return re.findall(r"<th([^>]*)>(.*?)</th>", head.group(1))


def test_numeric_columns_are_right_aligned_headers_included(page):
    browser, addr, client, proxies = page
    dom = chromium(browser, f"http://{addr}/#token={TOKEN}", "--dump-dom")
    numeric = {"objects": {"refcount", "size", "memory"}, "connections": {"id", "requests", "in", "out"}}
    for table, names in numeric.items():
        cells = header_cells(dom, table)
        aligned = {name for attrs, name in cells if 'class="num"' in attrs}
        assert aligned == names, (table, cells)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", dom.split(f'<table id="{table}">')[1].split("</table>")[0]):
            tds = re.findall(r"<td([^>]*)>", row)
            if tds:
                heads = [name for _, name in cells]
                body_num = {heads[i] for i, attrs in enumerate(tds) if 'class="num"' in attrs}
                assert body_num == names, (table, row)
    css = request(addr, "/assets/style.css", token=None).body
    rule = re.search(r"([^{}]*)\{[^}]*text-align:\s*right", css)
    assert rule and "th.num" in rule.group(1) and "td.num" in rule.group(1), css


def test_detail_view_shows_the_preview_as_text(page):
    browser, addr, client, proxies = page
    lid = proxies["list"]._token.id
    dom = chromium(browser, f"http://{addr}/#token={TOKEN}&object={lid}", "--dump-dom")
    assert f'<span id="detail-id">{lid}</span>' in dom
    preview = re.search(r'<pre id="detail-preview">(.*?)</pre>', dom, re.S).group(1)
    # Client data is shown as text: the markup arrives escaped, not as an element.
    assert preview == "[1, 2, 3, '&lt;b&gt;not markup&lt;/b&gt;']"
    assert "<b>not markup</b>" not in dom


def test_wrong_token_shows_no_data(page):
    browser, addr, client, proxies = page
    dom = chromium(browser, f"http://{addr}/#token=wrong", "--dump-dom")
    assert "wrong token" in dom
    assert proxies["list"]._token.id not in dom
    assert rows(dom, "objects") == []
    # The sign-in form stays visible, so the right token can be entered.
    assert not re.search(r'<form id="login"[^>]*\shidden', dom), login_form(dom)


def test_screenshot_looks_like_a_page(page, tmp_path):
    browser, addr, client, proxies = page
    shot = tmp_path / "admin.png"
    chromium(
        browser,
        f"http://{addr}/#token={TOKEN}&object={proxies['Queue']._token.id}",
        f"--screenshot={shot}",
        "--window-size=1200,800",
        "--hide-scrollbars",
    )
    assert shot.stat().st_size > 10_000
    width, height, colours = png_pixels(shot)
    assert (width, height) == (1200, 800)
    total = sum(colours.values())
    assert len(colours) > 20, "a nearly blank screenshot"
    assert colours.most_common(1)[0][1] < 0.95 * total, "one colour fills the screenshot"
    # The stylesheet loaded: the header's colour (#1f3b5c) covers a band.
    assert colours[bytes.fromhex("1f3b5c")] > 0.02 * total
