//! One function per subcommand: call the admin API through `client.rs`,
//! then write either the API's JSON (`--json`) or the readable form from
//! `render.rs` to `out`. Progress notes (`watch`'s "watching ...") go to
//! stderr so stdout stays parseable.

use crate::cli::Command;
use crate::client::{segment, AdminClient, CtlError};
use crate::render;
use crate::sse::Events;
use serde_json::Value;
use std::io::{BufReader, Write};

/// Runs `command`, writing its output to `out`.
pub fn run(
    client: &AdminClient,
    command: &Command,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CtlError> {
    match command {
        Command::Objects { orphans, typeid } => {
            let list = array(client, "/api/v1/objects")?;
            let list: Vec<Value> = list
                .into_iter()
                .filter(|o| !orphans || o.get("orphan").and_then(Value::as_bool) == Some(true))
                .filter(|o| {
                    typeid
                        .as_deref()
                        .is_none_or(|t| o.get("typeid").and_then(Value::as_str) == Some(t))
                })
                .collect();
            if json {
                emit_json(out, &Value::Array(list))
            } else {
                emit(out, &render::objects(&list))
            }
        }
        Command::Inspect { id } => {
            let o = client.get(&format!("/api/v1/objects/{}", segment(id)))?;
            show(out, json, &o, render::object_detail)
        }
        Command::Clients => {
            let list = array(client, "/api/v1/connections")?;
            if json {
                emit_json(out, &Value::Array(list))
            } else {
                emit(out, &render::connections(&list))
            }
        }
        Command::Stats => {
            let s = client.get("/api/v1/stats")?;
            show(out, json, &s, render::stats)
        }
        Command::Delete { id } => {
            let o = client.delete(&format!("/api/v1/objects/{}", segment(id)))?;
            show(out, json, &o, render::deleted)
        }
        Command::DropClient { id } => {
            let c = client.delete(&format!("/api/v1/connections/{id}"))?;
            show(out, json, &c, render::dropped)
        }
        Command::Health { wait } => health(client, *wait, json, out),
        Command::Watch { count } => watch(client, *count, json, out),
    }
}

fn array(client: &AdminClient, path: &str) -> Result<Vec<Value>, CtlError> {
    match client.get(path)? {
        Value::Array(list) => Ok(list),
        _ => Err(CtlError::BadReply {
            url: format!("{}{path}", client.base()),
            reason: "expected a JSON list".to_string(),
        }),
    }
}

fn show(
    out: &mut dyn Write,
    json: bool,
    v: &Value,
    readable: fn(&Value) -> String,
) -> Result<(), CtlError> {
    if json {
        emit_json(out, v)
    } else {
        emit(out, &readable(v))
    }
}

fn emit(out: &mut dyn Write, text: &str) -> Result<(), CtlError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CtlError::Output)
}

fn emit_json(out: &mut dyn Write, v: &Value) -> Result<(), CtlError> {
    // Serialising a parsed `Value` cannot fail; `to_string` is the fallback.
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    emit(out, &format!("{text}\n"))
}

/// `/readyz`: 200 while the manager serves, 503 once it began stopping.
/// `/readyz`, asked again every quarter second while it fails (refused,
/// or not ready yet) until `wait` has passed.
fn health(
    client: &AdminClient,
    wait: Option<std::time::Duration>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CtlError> {
    let deadline = std::time::Instant::now() + wait.unwrap_or_default();
    let (status, body) = loop {
        let answer = client.get_text("/readyz").and_then(|(status, body)| {
            let body = body.trim().to_string();
            if status == 200 {
                Ok((status, body))
            } else {
                Err(CtlError::Api {
                    status,
                    message: format!("the manager is not ready: {body}"),
                })
            }
        });
        match answer {
            Ok(ready) => break ready,
            Err(e) if std::time::Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(250)),
        }
    };
    if json {
        emit_json(out, &serde_json::json!({ "ready": true, "status": status }))
    } else {
        emit(out, &format!("{body}\n"))
    }
}

/// Follows `/api/v1/events` until the stream ends or `count` events were
/// written; each event is flushed at once so a pipe sees it live.
fn watch(
    client: &AdminClient,
    count: Option<u64>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CtlError> {
    let url = format!("{}/api/v1/events", client.base());
    let stream = client.stream("/api/v1/events")?;
    // The server subscribed before it answered: from here on nothing is
    // missed, which is what a script waiting for this line relies on.
    eprintln!("watching events at {url} (Ctrl-C to stop)");
    let mut events = Events::new(BufReader::new(stream));
    let mut written = 0u64;
    while count.is_none_or(|c| written < c) {
        let data = events.next_event().map_err(|e| CtlError::BadReply {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let Some(data) = data else {
            eprintln!("event stream ended (the manager stopped)");
            return Ok(());
        };
        let event: Value = serde_json::from_str(&data).map_err(|e| CtlError::BadReply {
            url: url.clone(),
            reason: format!("an event is not JSON ({e})"),
        })?;
        let line = if json {
            event.to_string()
        } else {
            render::event(&event)
        };
        emit(out, &format!("{line}\n"))?;
        written += 1;
    }
    Ok(())
}
