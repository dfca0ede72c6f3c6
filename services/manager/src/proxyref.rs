//! Proxies inside values: `RebuildProxy(cls, Token, 'pickle', kwds)`.
//!
//! A CPython client that passes a proxy as an argument (`outer.append(inner)`,
//! `manager.Condition(lock)`) sends it as a reduce call of
//! `multiprocessing.managers.RebuildProxy` whose second argument is a
//! `Token(typeid, address, id)` (docs/protocol.md 6.3, 7.3, 7.4). We never rebuild the
//! proxy: we recognise the token, and when its id names one of our objects
//! we keep that object alive for as long as a stored value holds the token,
//! and write our advertised address into it so that clients reading the
//! value back reach this server.
//!
//! `#PROXY` replies carry a bare `Token` built by [`token`].

use mpcluster_wire::value::Build;
use mpcluster_wire::{Object, Value};

const MANAGERS: &str = "multiprocessing.managers";

/// A `Token(typeid, (host, port), id)` as CPython pickles it: `NEWOBJ` of
/// the class with no arguments, then `BUILD` with the state tuple.
pub fn token(typeid: &str, address: &(String, u16), id: &str) -> Value {
    let state = Value::tuple([
        Value::from(typeid),
        Value::tuple([
            Value::from(address.0.as_str()),
            Value::Int(address.1 as i64),
        ]),
        Value::from(id),
    ]);
    Value::Object(Box::new(Object::new_obj(
        Value::global(MANAGERS, "Token"),
        vec![],
        Some(state),
    )))
}

/// The `(typeid, address, id)` state of a `Token` value.
fn token_state(v: &Value) -> Option<&[Value]> {
    let o = v.as_object_of(MANAGERS, "Token")?;
    match &o.state {
        Some(Value::Tuple(items)) if items.len() == 3 => Some(items),
        _ => None,
    }
}

/// The object id of a `RebuildProxy(...)` value, or of a bare `Token`.
pub fn token_id(v: &Value) -> Option<&str> {
    let tok = match v.as_object_of(MANAGERS, "RebuildProxy") {
        Some(o) => o.args().get(1)?,
        None => v,
    };
    token_state(tok)?.get(2)?.as_str()
}

/// The typeid named by a `RebuildProxy(...)` value's token.
pub fn token_typeid(v: &Value) -> Option<&str> {
    let o = v.as_object_of(MANAGERS, "RebuildProxy")?;
    token_state(o.args().get(1)?)?.first()?.as_str()
}

/// Calls `f` on every proxy value nested anywhere in `v`.
pub fn for_each_proxy<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    match v {
        Value::Object(o) => {
            if o.global().is_some_and(|g| g.is(MANAGERS, "RebuildProxy")) {
                f(v);
                return;
            }
            let (a, b) = match &o.build {
                Build::Reduce { callable, args } => (callable, args),
                Build::NewObj { cls, args, .. } => (cls, args),
            };
            for_each_proxy(a, f);
            for_each_proxy(b, f);
            o.list_items.iter().for_each(|i| for_each_proxy(i, f));
            for (k, val) in &o.dict_items {
                for_each_proxy(k, f);
                for_each_proxy(val, f);
            }
            if let Some(s) = &o.state {
                for_each_proxy(s, f);
            }
        }
        Value::Tuple(items) | Value::List(items) => items.iter().for_each(|i| for_each_proxy(i, f)),
        Value::Dict(d) => d.iter().for_each(|(k, val)| {
            for_each_proxy(k, f);
            for_each_proxy(val, f);
        }),
        Value::Set(s) | Value::FrozenSet(s) => s.iter().for_each(|i| for_each_proxy(i, f)),
        _ => {}
    }
}

/// Appends the ids of all proxies nested in `v` (for `SharedObject::refs`).
pub fn collect_ids(v: &Value, out: &mut Vec<String>) {
    for_each_proxy(v, &mut |p| {
        if let Some(id) = token_id(p) {
            out.push(id.to_string());
        }
    });
}

/// True when `v` holds any proxy value (a cheap pre-check before rewriting).
pub fn contains_proxy(v: &Value) -> bool {
    let mut found = false;
    for_each_proxy(v, &mut |_| found = true);
    found
}

/// Rewrites the address of every token in `v` whose id `is_local` accepts
/// to `address`, so a client reading the value back connects here (CPython
/// keeps whatever address the sending client used, docs/protocol.md 6.4).
pub fn localise(v: &mut Value, address: &(String, u16), is_local: &dyn Fn(&str) -> bool) {
    match v {
        Value::Object(o) => {
            if o.global().is_some_and(|g| g.is(MANAGERS, "RebuildProxy")) {
                if let Build::Reduce {
                    args: Value::Tuple(args),
                    ..
                } = &mut o.build
                {
                    if let Some(Value::Object(tok)) = args.get_mut(1) {
                        if let Some(Value::Tuple(state)) = &mut tok.state {
                            let local = state.get(2).and_then(Value::as_str).is_some_and(is_local);
                            if local && state.len() == 3 {
                                state[1] = Value::tuple([
                                    Value::from(address.0.as_str()),
                                    Value::Int(address.1 as i64),
                                ]);
                            }
                        }
                    }
                }
                return;
            }
            if let Some(s) = &mut o.state {
                localise(s, address, is_local);
            }
            o.list_items
                .iter_mut()
                .for_each(|i| localise(i, address, is_local));
        }
        Value::Tuple(items) | Value::List(items) => items
            .iter_mut()
            .for_each(|i| localise(i, address, is_local)),
        Value::Dict(d) => {
            // Keys are immutable in place; proxies as dict keys keep their
            // original address (they are unhashable on CPython anyway).
            let pairs: Vec<(Value, Value)> = std::mem::take(&mut **d).into_iter().collect();
            let mut rebuilt = mpcluster_wire::Dict::new();
            for (k, mut val) in pairs {
                localise(&mut val, address, is_local);
                // Re-inserting keys that were already in a dict cannot fail.
                let _ = rebuilt.insert(k, val);
            }
            **d = rebuilt;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rebuild(id: &str) -> Value {
        let tok = token("list", &("10.0.0.1".into(), 1), id);
        Value::Object(Box::new(Object::reduce(
            Value::global(MANAGERS, "RebuildProxy"),
            vec![
                Value::global(MANAGERS, "ListProxy"),
                tok,
                Value::from("pickle"),
                Value::Dict(Box::default()),
            ],
        )))
    }

    #[test]
    fn finds_nested_proxies() {
        let v = Value::List(vec![Value::Int(1), Value::tuple([rebuild("abc")])]);
        let mut ids = Vec::new();
        collect_ids(&v, &mut ids);
        assert_eq!(ids, vec!["abc".to_string()]);
        assert_eq!(token_id(&rebuild("x")), Some("x"));
        assert_eq!(token_typeid(&rebuild("x")), Some("list"));
    }

    #[test]
    fn localise_rewrites_only_our_ids() {
        let mut v = Value::List(vec![rebuild("ours"), rebuild("theirs")]);
        localise(&mut v, &("127.0.0.1".into(), 50000), &|id| id == "ours");
        let Value::List(items) = &v else {
            unreachable!()
        };
        let addr = |p: &Value| {
            let o = p.as_object_of(MANAGERS, "RebuildProxy").unwrap();
            token_state(&o.args()[1]).unwrap()[1].clone()
        };
        assert_eq!(
            addr(&items[0]),
            Value::tuple([Value::from("127.0.0.1"), Value::Int(50000)])
        );
        assert_eq!(
            addr(&items[1]),
            Value::tuple([Value::from("10.0.0.1"), Value::Int(1)])
        );
    }
}
