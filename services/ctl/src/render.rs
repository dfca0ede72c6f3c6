//! The readable (non `--json`) output of each command, built from the
//! admin API's JSON (`docs/admin-api.md`: `ObjectInfo`, `ObjectDetail`,
//! `ConnectionInfo`, `Stats`, `EventInfo`). Fields are read by name and a
//! missing one shows as `-`, so a manager of another version still renders.

use crate::table::{self, Table};
use serde_json::Value;

/// A field as display text: strings bare, numbers and booleans as JSON,
/// null or missing as `-`.
fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn float(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn uint(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// A byte count for people: `1.5 MiB`, `512 B`; `-` when absent.
fn bytes(v: &Value, key: &str) -> String {
    let Some(n) = uint(v, key) else {
        return "-".to_string();
    };
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", UNITS[unit])
    }
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// `8,(12)`: the connections that used an object, closed ones in
/// parentheses (an object used only by closed ones is an orphan candidate).
fn conns(v: &Value) -> String {
    let Some(list) = v.get("conns").and_then(Value::as_array) else {
        return "-".to_string();
    };
    if list.is_empty() {
        return "-".to_string();
    }
    list.iter()
        .map(|c| {
            let id = text(c, "id");
            if flag(c, "open") {
                id
            } else {
                format!("({id})")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn flags(v: &Value) -> String {
    let mut out = Vec::new();
    if flag(v, "named") {
        out.push("named");
    }
    if flag(v, "orphan") {
        out.push("orphan");
    }
    out.join(",")
}

fn idle(v: &Value) -> String {
    float(v, "last_used_seconds_ago")
        .map(table::duration)
        .unwrap_or_else(|| "-".into())
}

/// `mpctl objects`.
pub fn objects(list: &[Value]) -> String {
    if list.is_empty() {
        return "no objects\n".to_string();
    }
    let mut t = Table::new(&[
        ("ID", false),
        ("TYPEID", false),
        ("TYPE", false),
        ("REFS", true),
        ("SIZE", true),
        ("MEMORY", true),
        ("IDLE", true),
        ("CONNS", false),
        ("FLAGS", false),
    ]);
    for o in list {
        t.row(vec![
            text(o, "id"),
            text(o, "typeid"),
            text(o, "type_name"),
            text(o, "refcount"),
            text(o, "size"),
            bytes(o, "memory_bytes"),
            idle(o),
            conns(o),
            flags(o),
        ]);
    }
    let n = list.len();
    format!(
        "{}{n} object{}\n",
        t.render(),
        if n == 1 { "" } else { "s" }
    )
}

/// `mpctl inspect ID`.
pub fn object_detail(o: &Value) -> String {
    let mut out = table::fields(&[
        ("id", text(o, "id")),
        ("typeid", text(o, "typeid")),
        ("type", text(o, "type_name")),
        ("refcount", text(o, "refcount")),
        ("size", text(o, "size")),
        ("memory", bytes(o, "memory_bytes")),
        ("created", text(o, "created")),
        ("idle", idle(o)),
        ("connections", conns(o)),
        ("orphan", flag(o, "orphan").to_string()),
        ("named", flag(o, "named").to_string()),
    ]);
    out.push_str("preview:\n  ");
    out.push_str(&table::clean(&text(o, "preview")));
    if flag(o, "preview_truncated") {
        out.push_str(&format!(
            "... (cut at {} bytes)",
            uint(o, "preview_limit").unwrap_or(0)
        ));
    }
    out.push('\n');
    out
}

/// `mpctl clients`.
pub fn connections(list: &[Value]) -> String {
    if list.is_empty() {
        return "no open connections\n".to_string();
    }
    let mut t = Table::new(&[
        ("ID", false),
        ("PEER", false),
        ("NAME", false),
        ("OPENED", false),
        ("AUTH", false),
        ("REQUESTS", true),
        ("IN", true),
        ("OUT", true),
        ("WAITING", false),
    ]);
    for c in list {
        let bytes = |k| uint(c, k).map(table::bytes).unwrap_or_else(|| "-".into());
        let authenticated = match c.get("authenticated") {
            Some(Value::String(_)) => "yes",
            _ => "no",
        };
        t.row(vec![
            text(c, "id"),
            text(c, "peer"),
            text(c, "name"),
            text(c, "opened"),
            authenticated.to_string(),
            text(c, "requests"),
            bytes("bytes_in"),
            bytes("bytes_out"),
            text(c, "waiting"),
        ]);
    }
    let n = list.len();
    format!(
        "{}{n} connection{}\n",
        t.render(),
        if n == 1 { "" } else { "s" }
    )
}

/// `mpctl stats`.
pub fn stats(s: &Value) -> String {
    table::fields(&[
        ("version", text(s, "version")),
        ("advertised", text(s, "advertised")),
        ("started", text(s, "started")),
        (
            "uptime",
            float(s, "uptime_seconds")
                .map(table::duration)
                .unwrap_or_else(|| "-".into()),
        ),
        ("objects", text(s, "objects")),
        ("objects referenced", text(s, "objects_referenced")),
        ("orphans", text(s, "orphans")),
        ("connections", text(s, "connections")),
        ("requests", text(s, "requests_total")),
        ("memory used", bytes(s, "memory_used_bytes")),
        ("memory limit", bytes(s, "memory_limit_bytes")),
        ("memory in objects", bytes(s, "memory_objects_bytes")),
    ])
}

/// One `watch` line: `AT  KIND  key=value ...` (the event's other fields,
/// by name).
pub fn event(e: &Value) -> String {
    let mut line = format!("{}  {}", text(e, "at"), text(e, "kind"));
    if let Some(map) = e.as_object() {
        let mut rest: Vec<(&String, &Value)> = map
            .iter()
            .filter(|(k, _)| k.as_str() != "at" && k.as_str() != "kind")
            .collect();
        rest.sort_by_key(|(k, _)| k.as_str());
        for (k, v) in rest {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            line.push_str(&format!("  {k}={v}"));
        }
    }
    table::clean(&line)
}

/// What `mpctl delete` says it did.
pub fn deleted(o: &Value) -> String {
    format!(
        "deleted object {} ({}, refcount {})\n",
        table::clean(&text(o, "id")),
        table::clean(&text(o, "typeid")),
        text(o, "refcount")
    )
}

/// What `mpctl drop-client` says it did.
pub fn dropped(c: &Value) -> String {
    format!(
        "dropped connection {} ({})\n",
        text(c, "id"),
        table::clean(&text(c, "peer"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object() -> Value {
        json!({
            "id": "1a2b", "typeid": "get_queue", "type_name": "Queue", "refcount": 2,
            "created": "2026-01-01T12:00:00Z", "last_used_seconds_ago": 75.2,
            "size": 3, "conns": [{"id": 8, "open": true}, {"id": 12, "open": false}],
            "orphan": false, "named": true, "memory_bytes": 1536
        })
    }

    #[test]
    fn object_table() {
        let out = objects(&[
            object(),
            json!({"id": "ff", "typeid": "list", "size": null}),
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "ID    TYPEID     TYPE   REFS  SIZE   MEMORY   IDLE  CONNS   FLAGS"
        );
        assert_eq!(
            lines[1],
            "1a2b  get_queue  Queue     2     3  1.5 KiB  1m15s  8,(12)  named"
        );
        assert_eq!(
            lines[2],
            "ff    list       -         -     -        -      -  -"
        );
        assert_eq!(lines[3], "2 objects");
        assert_eq!(objects(&[]), "no objects\n");
    }

    #[test]
    fn detail_block() {
        let mut o = object();
        o["preview"] = json!("<Queue of 3>\x1b[31m");
        o["preview_truncated"] = json!(true);
        o["preview_limit"] = json!(4096);
        let out = object_detail(&o);
        assert!(out.contains("refcount:     2\n"), "{out}");
        assert!(out.contains("connections:  8,(12)\n"), "{out}");
        assert!(out.ends_with("preview:\n  <Queue of 3>\\u{1b}[31m... (cut at 4096 bytes)\n"));
    }

    #[test]
    fn connection_table() {
        let out = connections(&[json!({
            "id": 8, "peer": "127.0.0.1:40000", "name": null, "opened": "2026-01-01T12:00:00Z",
            "authenticated": "2026-01-01T12:00:00Z", "requests": 12,
            "bytes_in": 2048, "bytes_out": 100, "waiting": "1a2b.get"
        })]);
        let row = out.lines().nth(1).unwrap();
        assert_eq!(
            row,
            "8   127.0.0.1:40000  -     2026-01-01T12:00:00Z  yes         12  2.0 KiB  100 B  1a2b.get"
        );
        assert!(out.ends_with("1 connection\n"));
    }

    #[test]
    fn event_lines() {
        let e = json!({"at": "T", "kind": "object_created", "typeid": "list", "id": "7"});
        assert_eq!(event(&e), "T  object_created  id=7  typeid=list");
        let e = json!({"at": "T", "kind": "auth_failed", "peer": "p", "reason": "bad\nkey"});
        assert_eq!(event(&e), "T  auth_failed  peer=p  reason=bad\\nkey");
    }

    #[test]
    fn stats_block() {
        let out = stats(&json!({"version": "0.1.0", "uptime_seconds": 3.5, "objects": 4}));
        assert!(out.starts_with("version:             0.1.0\n"), "{out}");
        assert!(out.contains("uptime:              3s\n"), "{out}");
        assert!(out.contains("orphans:             -\n"), "{out}");
    }
}
