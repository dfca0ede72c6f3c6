// The admin page: polls the JSON API every 2 s with the admin token and
// renders objects, connections and the selected object's preview.
//
// The token comes from the URL fragment (#token=...), which browsers never
// send to the server, or from the form; it is kept in sessionStorage and
// sent as an Authorization header, then removed from the address bar.
// Everything from the server is inserted with textContent: object previews
// hold client data and must never be parsed as HTML.
"use strict";

const REFRESH_MS = 2000;
let token = sessionStorage.getItem("mpcluster-admin-token") || "";
let selected = null;

// The fragment may also name an object to open (#token=...&object=<id>),
// so a link can point at one object's detail view.
function takeFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const t = params.get("token");
  if (t) {
    token = t;
    sessionStorage.setItem("mpcluster-admin-token", t);
  }
  selected = params.get("object") || selected;
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

async function api(path) {
  const resp = await fetch("/api/v1" + path, {
    headers: { Authorization: "Bearer " + token },
    cache: "no-store",
  });
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch (_) { /* not JSON */ }
    const err = new Error(msg);
    err.status = resp.status;
    throw err;
  }
  return resp.json();
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function ago(secs) {
  if (secs < 60) return secs.toFixed(1) + " s ago";
  if (secs < 3600) return (secs / 60).toFixed(1) + " min ago";
  return (secs / 3600).toFixed(1) + " h ago";
}

function setStatus(text, ok) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = "status " + (ok ? "ok" : "bad");
}

// The token form is for signing in: once a refresh succeeds it is cleared
// (the token stays in sessionStorage only) and hidden; a wrong or expired
// token shows it again.
function showLogin(visible) {
  const form = document.getElementById("login");
  form.hidden = !visible;
  if (!visible) document.getElementById("token").value = "";
}

// A byte count for people ("1.5 MiB"); "" when absent.
function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let x = n, u = 0;
  while (x >= 1024 && u + 1 < units.length) { x /= 1024; u += 1; }
  return u === 0 ? n + " B" : x.toFixed(1) + " " + units[u];
}

function renderObjects(objects) {
  const body = document.querySelector("#objects tbody");
  body.replaceChildren();
  for (const o of objects) {
    const tr = document.createElement("tr");
    tr.className = "object" + (o.orphan ? " orphan" : "") + (o.id === selected ? " selected" : "");
    tr.dataset.id = o.id;
    cell(tr, o.id, "id");
    cell(tr, o.typeid);
    cell(tr, o.type_name);
    cell(tr, o.refcount, "num");
    cell(tr, o.size === null ? "" : o.size, "num");
    cell(tr, bytes(o.memory_bytes), "num");
    cell(tr, ago(o.last_used_seconds_ago));
    cell(tr, o.named ? "yes" : "no");
    cell(tr, o.orphan ? "yes" : "no");
    tr.addEventListener("click", () => { selected = o.id; refreshDetail(); });
    body.appendChild(tr);
  }
  document.getElementById("object-count").textContent = "(" + objects.length + ")";
}

function renderConnections(conns) {
  const body = document.querySelector("#connections tbody");
  body.replaceChildren();
  for (const c of conns) {
    const tr = document.createElement("tr");
    cell(tr, c.id, "num");
    cell(tr, c.peer);
    cell(tr, c.name);
    cell(tr, c.requests, "num");
    cell(tr, c.bytes_in, "num");
    cell(tr, c.bytes_out, "num");
    cell(tr, c.waiting);
    body.appendChild(tr);
  }
  document.getElementById("connection-count").textContent = "(" + conns.length + ")";
}

function renderFields(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v === null || v === undefined ? "" : String(v);
    dl.append(dt, dd);
  }
}

async function refreshDetail() {
  const section = document.getElementById("detail");
  if (!selected) { section.hidden = true; return; }
  try {
    const d = await api("/objects/" + encodeURIComponent(selected));
    section.hidden = false;
    document.getElementById("detail-id").textContent = d.id;
    renderFields(document.getElementById("detail-fields"), [
      ["typeid", d.typeid], ["type", d.type_name], ["refcount", d.refcount],
      ["size", d.size], ["memory", bytes(d.memory_bytes)], ["created", d.created],
      ["named", d.named],
      ["orphan", d.orphan],
      ["used by", d.conns.map((c) => c.id + (c.open ? "" : " (closed)")).join(", ")],
    ]);
    document.getElementById("detail-preview").textContent =
      d.preview + (d.preview_truncated ? "\n… (cut at " + d.preview_limit + " bytes)" : "");
  } catch (e) {
    if (e.status === 404) { selected = null; section.hidden = true; } else { throw e; }
  }
}

async function refresh() {
  if (!token) { showLogin(true); setStatus("enter the admin token", false); return; }
  try {
    const [stats, objects, conns] = await Promise.all([
      api("/stats"), api("/objects"), api("/connections"),
    ]);
    renderFields(document.getElementById("stats"), [
      ["version", stats.version], ["uptime", stats.uptime_seconds.toFixed(0) + " s"],
      ["objects", stats.objects], ["orphans", stats.orphans],
      ["connections", stats.connections], ["requests", stats.requests_total],
      ["advertised", stats.advertised],
      ["memory used", bytes(stats.memory_used_bytes)],
      ["memory limit", stats.memory_limit_bytes == null ? "none" : bytes(stats.memory_limit_bytes)],
      ["memory in objects", bytes(stats.memory_objects_bytes)],
    ]);
    renderObjects(objects);
    renderConnections(conns);
    await refreshDetail();
    setStatus("updated " + new Date().toLocaleTimeString(), true);
    showLogin(false);
  } catch (e) {
    if (e.status === 401) showLogin(true);
    setStatus(e.status === 401 ? "wrong token" : "error: " + e.message, false);
  }
}

document.getElementById("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = document.getElementById("token").value.trim();
  sessionStorage.setItem("mpcluster-admin-token", token);
  refresh();
});
document.getElementById("detail-close").addEventListener("click", () => {
  selected = null;
  refreshDetail();
});

takeFragment();
refresh();
setInterval(refresh, REFRESH_MS);
