//! The pickle codec against every frame CPython sent in the captured
//! sessions (`testdata/vectors/`, see its README).
//!
//! Each pickle frame must decode; its decoded value, rendered the way the
//! capture tool rendered it (`value`: a global as `module.name`, a call as
//! `module.name(args)`, `BUILD` as `.__setstate__(state)`, everything else
//! as Python's `repr`), must equal the recorded text; re-encoding must give
//! a pickle that decodes to the same value, and for CPython's own frames the
//! very same bytes, except where CPython reused one string object twice
//! (identity a value tree does not keep).

use mpcluster_wire::pickle::{decode, encode, Limits};
use mpcluster_wire::value::Build;
use mpcluster_wire::{Object, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

struct Frame {
    file: String,
    dir: String,
    payload: Vec<u8>,
    value: Option<String>,
}

fn vector_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            vector_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Every pickle frame of every capture: frames the tool disassembled as
/// pickles (handshake frames, even one starting with 0x80 by chance, carry
/// no disassembly).
fn pickle_frames() -> Vec<Frame> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors");
    let mut files = Vec::new();
    vector_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 28,
        "captured vectors missing under {}",
        root.display()
    );
    let mut frames = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let Some(list) = doc.get("frames").and_then(|v| v.as_array()) else {
            continue;
        };
        for fr in list {
            let (Some(hex), Some(_)) = (fr.get("hex"), fr.get("pickle_disasm")) else {
                continue;
            };
            let bytes = hex::decode(hex.as_str().unwrap()).unwrap();
            // A 4-byte big-endian length; -1 announces an 8-byte one.
            let skip = if bytes.starts_with(&[0xff; 4]) { 12 } else { 4 };
            frames.push(Frame {
                file: f.file_name().unwrap().to_string_lossy().into_owned(),
                dir: fr["dir"].as_str().unwrap().to_string(),
                payload: bytes[skip..].to_vec(),
                value: fr.get("value").and_then(|v| v.as_str()).map(str::to_string),
            });
        }
    }
    frames
}

// ---- the capture tool's rendering, for comparison ----

fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                write!(out, "\\x{:02x}", c as u32).unwrap()
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

fn repr_bytes(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push('b');
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c as char == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => write!(out, "\\x{c:02x}").unwrap(),
        }
    }
    out.push(quote);
}

/// `repr(float)`: shortest round-trip digits, positional between 1e-4 and
/// 1e16.
fn repr_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

fn render_seq(items: &[Value], out: &mut String) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        render(x, out);
    }
}

fn render_object(o: &Object, out: &mut String) {
    let (callable, args, kwargs) = match &o.build {
        Build::Reduce { callable, args } => (callable, args, None),
        Build::NewObj { cls, args, kwargs } => (cls, args, kwargs.as_ref()),
    };
    render(callable, out);
    out.push('(');
    if let Value::Tuple(items) = args {
        render_seq(items, out);
    }
    out.push(')');
    if let Some(kw) = kwargs {
        out.push_str("**");
        render(kw, out);
    }
    assert!(
        o.list_items.is_empty() && o.dict_items.is_empty(),
        "the capture tool cannot render items"
    );
    if let Some(state) = &o.state {
        out.push_str(".__setstate__(");
        render(state, out);
        out.push(')');
    }
}

fn render(v: &Value, out: &mut String) {
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Int(i) => write!(out, "{i}").unwrap(),
        Value::BigInt(b) => write!(out, "{b}").unwrap(),
        Value::Float(f) => out.push_str(&repr_float(*f)),
        Value::Complex(c) => write!(
            out,
            "builtins.complex({}, {})",
            repr_float(c.0),
            repr_float(c.1)
        )
        .unwrap(),
        Value::Str(s) => repr_str(s, out),
        // No capture holds one; Python's repr, as the tool would print it.
        Value::SurrogateStr(_) => out.push_str(&v.repr()),
        Value::Bytes(b) => repr_bytes(b, out),
        Value::ByteArray(b) => {
            out.push_str("builtins.bytearray(");
            repr_bytes(b, out);
            out.push(')');
        }
        Value::Tuple(items) => {
            out.push('(');
            render_seq(items, out);
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::List(items) => {
            out.push('[');
            render_seq(items, out);
            out.push(']');
        }
        Value::Dict(d) => {
            out.push('{');
            for (i, (k, v)) in d.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(k, out);
                out.push_str(": ");
                render(v, out);
            }
            out.push('}');
        }
        Value::Set(_) | Value::FrozenSet(_) | Value::BackRef(_) => {
            panic!("not in the captures: {v:?}")
        }
        Value::Global(g) => write!(out, "{}.{}", g.module, g.name).unwrap(),
        Value::Object(o) => render_object(o, out),
    }
}

fn rendered(v: &Value) -> String {
    let mut s = String::new();
    render(v, &mut s);
    s
}

/// The recorded rendering of a frame, with each call of a built-in
/// constructor on a container (`builtins.list([...])`, how CPython's server
/// pickles a dict view) replaced by the value it builds: the decoder builds
/// those values itself (`pickle/known.rs`).
fn with_constructor_calls_built(text: &str) -> String {
    const CALL: &str = "builtins.list(";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(CALL) {
        out.push_str(&rest[..at]);
        let inner = &rest[at + CALL.len()..];
        // The argument runs to the parenthesis that closes the call.
        let mut depth = 0i32;
        let mut end = inner.len();
        for (i, c) in inner.char_indices() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth > 0 => depth -= 1,
                ')' => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        out.push_str(&inner[..end]);
        rest = inner.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

// ---- tests ----

#[test]
fn constructor_calls_render_as_what_they_build() {
    assert_eq!(
        with_constructor_calls_built("('#RETURN', builtins.list(['a', ('b', 1)]))"),
        "('#RETURN', ['a', ('b', 1)])"
    );
    assert_eq!(with_constructor_calls_built("[1]"), "[1]");
}

#[test]
fn every_frame_decodes_to_the_recorded_value() {
    let frames = pickle_frames();
    assert!(
        frames.len() > 800,
        "only {} pickle frames found",
        frames.len()
    );
    let mut compared = 0;
    for f in &frames {
        let v = decode(&f.payload, &Limits::default())
            .unwrap_or_else(|e| panic!("{} {}: {e}", f.file, f.dir));
        if let Some(text) = &f.value {
            assert_eq!(
                rendered(&v),
                with_constructor_calls_built(text),
                "{} {}",
                f.file,
                f.dir
            );
            compared += 1;
        }
    }
    assert_eq!(
        compared,
        frames.len(),
        "every pickle frame has a recorded value"
    );
}

#[test]
fn requests_and_replies_have_the_manager_shapes() {
    let mut requests = 0;
    let mut malformed = Vec::new();
    let mut kinds = std::collections::BTreeMap::new();
    for f in pickle_frames() {
        let v = decode(&f.payload, &Limits::default()).unwrap();
        let Value::Tuple(items) = &v else {
            panic!("{}: not a tuple: {v:?}", f.file)
        };
        if f.dir == "c2s" {
            // (ident, methodname, args, kwds); two malformed requests of
            // the raw scenarios are the exceptions.
            if let [ident, Value::Str(_), Value::Tuple(_), Value::Dict(_)] = items.as_slice() {
                assert!(
                    matches!(ident, Value::None | Value::Str(_)),
                    "{}: ident {ident:?}",
                    f.file
                );
                requests += 1;
            } else {
                malformed.push(f.file.clone());
            }
        } else {
            let [Value::Str(kind), _] = items.as_slice() else {
                panic!("{}: {v:?}", f.file)
            };
            *kinds.entry(kind.clone()).or_insert(0) += 1;
        }
    }
    assert!(requests >= 420, "{requests} requests");
    assert_eq!(malformed, ["serve_client_raw.json", "server_methods.json"]);
    let names: Vec<&str> = kinds.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "#ERROR",
            "#PROXY",
            "#RETURN",
            "#TRACEBACK",
            "#UNSERIALIZABLE"
        ]
    );
}

fn error_of(v: &Value) -> Option<&Object> {
    match v {
        Value::Tuple(items) => match items.as_slice() {
            [Value::Str(k), Value::Object(o)] if k == "#ERROR" => Some(o),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn errors_are_reduces_of_exception_classes() {
    let mut key_errors = 0;
    let mut empties = 0;
    for f in pickle_frames() {
        let v = decode(&f.payload, &Limits::default()).unwrap();
        let Some(exc) = error_of(&v) else { continue };
        let Build::Reduce {
            callable: Value::Global(g),
            args: Value::Tuple(args),
        } = &exc.build
        else {
            panic!("{}: {exc:?}", f.file)
        };
        if g.is("builtins", "KeyError") {
            assert!(
                matches!(args.as_slice(), [Value::Str(_)] | [Value::Int(_)]),
                "{args:?}"
            );
            key_errors += 1;
        }
        if g.is("_queue", "Empty") {
            assert!(args.is_empty());
            assert!(exc.state.is_none());
            empties += 1;
        }
    }
    assert!(key_errors >= 2, "{key_errors} KeyErrors");
    assert!(empties >= 2, "{empties} queue.Empty");
}

#[test]
fn proxies_carry_tokens() {
    let mut tokens = 0;
    for f in pickle_frames()
        .iter()
        .filter(|f| f.file == "nested_proxies.json")
    {
        let v = decode(&f.payload, &Limits::default()).unwrap();
        let mut stack = vec![&v];
        while let Some(x) = stack.pop() {
            match x {
                Value::Tuple(items) | Value::List(items) => stack.extend(items),
                Value::Dict(d) => stack.extend(d.values()),
                Value::Object(o)
                    if o.global()
                        .is_some_and(|g| g.is("multiprocessing.managers", "RebuildProxy")) =>
                {
                    let [Value::Global(cls), Value::Object(token), Value::Str(ser), Value::Dict(_)] =
                        o.args()
                    else {
                        panic!("RebuildProxy args {:?}", o.args())
                    };
                    assert_eq!(cls.module, "multiprocessing.managers");
                    assert_eq!(ser, "pickle");
                    assert!(matches!(&token.build, Build::NewObj { kwargs: None, .. }));
                    assert!(token
                        .global()
                        .is_some_and(|g| g.is("multiprocessing.managers", "Token")));
                    let Some(Value::Tuple(state)) = &token.state else {
                        panic!("token state {token:?}")
                    };
                    let [Value::Str(_typeid), Value::Tuple(addr), Value::Str(_id)] =
                        state.as_slice()
                    else {
                        panic!("token state {state:?}")
                    };
                    assert!(
                        matches!(addr.as_slice(), [Value::Str(h), Value::Int(_)] if h == "127.0.0.1")
                    );
                    tokens += 1;
                }
                _ => {}
            }
        }
    }
    assert!(tokens >= 4, "{tokens} tokens");
}

#[test]
fn re_encoding_is_faithful_and_mostly_byte_identical() {
    let frames = pickle_frames();
    let mut identical = 0;
    let mut built = 0;
    let mut differing = Vec::new();
    for f in &frames {
        let v = decode(&f.payload, &Limits::default()).unwrap();
        let again = encode(&v);
        let back = decode(&again, &Limits::default()).unwrap();
        assert_eq!(rendered(&back), rendered(&v), "{} {}", f.file, f.dir);
        assert_eq!(back, v);
        if again == f.payload {
            identical += 1;
        } else if f
            .value
            .as_deref()
            .is_some_and(|t| t.contains("builtins.list("))
        {
            // A dict view, pickled as `list(...)`: re-encoded as the list
            // it builds, which is shorter than the call.
            built += 1;
        } else {
            // CPython wrote a memo GET for a second use of one string
            // object (an interned method name, the host of two tokens); a
            // tree re-encodes the string instead.
            assert!(again.len() > f.payload.len(), "{} {}", f.file, f.dir);
            differing.push(format!("{} {}", f.file, f.dir));
        }
    }
    eprintln!(
        "{identical} of {} frames re-encode byte for byte, {built} hold a built list; \
         differing: {differing:?}",
        frames.len()
    );
    assert!(built > 0 && built <= 10, "{built} frames with built lists");
    assert!(differing.len() <= 6, "{differing:?}");
}
