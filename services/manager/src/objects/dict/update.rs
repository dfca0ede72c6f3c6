//! The argument of `dict(...)`, `dict.update(...)` and `d |= x`
//! (`dict_update_arg`): a mapping, a proxy of one of our dicts, or an
//! iterable of key/value pairs, with CPython's errors for bad elements.

use super::{DictObject, SlottedDict};
use crate::args::Args;
use crate::objects::seq;
use crate::objects::CallCtx;
use crate::pyexc::PyException;
use mpcluster_wire::Value;

/// What `dict.update(*args, **kwargs)` adds, read before the dict is
/// locked. Like CPython, which inserts pairs as it reads them, a bad
/// element fails the call after the pairs before it went in.
pub(super) struct Update {
    pairs: Vec<(Value, Value)>,
    /// The failure after `pairs`, if reading the argument failed.
    failure: Option<PyException>,
    kw: Vec<(String, Value)>,
}

impl Update {
    pub(super) fn read(ctx: &CallCtx<'_>, name: &str, args: Args) -> Result<Update, PyException> {
        seq::check_count(name, args.pos.len(), 0, 1)?;
        let (pairs, failure) = match args.pos.first() {
            Some(arg) => pairs_of(ctx, arg)?,
            None => (Vec::new(), None),
        };
        Ok(Update {
            pairs,
            failure,
            kw: args.kw,
        })
    }

    pub(super) fn apply(self, into: &mut SlottedDict) -> Result<(), PyException> {
        for (k, v) in self.pairs {
            into.insert(k, v)?;
        }
        if let Some(e) = self.failure {
            return Err(e);
        }
        for (k, v) in self.kw {
            into.insert(Value::Str(k), v)?;
        }
        Ok(())
    }
}

type Pairs = (Vec<(Value, Value)>, Option<PyException>);

/// `dict_update_arg`: a mapping's items, or an iterable of pairs (up to the
/// first bad element, which is returned beside them).
fn pairs_of(ctx: &CallCtx<'_>, arg: &Value) -> Result<Pairs, PyException> {
    if let Some(pairs) = arg.detached_pairs()? {
        return Ok((pairs, None));
    }
    // A proxy of one of our dicts has `keys`, so CPython merges it as a
    // mapping rather than iterating it.
    if let Some(entry) = ctx.resolve_proxy(arg) {
        if let Some(other) = entry.obj.as_any().downcast_ref::<DictObject>() {
            let pairs = other
                .map()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            return Ok((pairs, None));
        }
    }
    let elements = seq::iterate(ctx, arg)?;
    let mut pairs = Vec::with_capacity(elements.len());
    for (i, e) in elements.iter().enumerate() {
        let Some(kv) = seq::iterate_plain(e)? else {
            let e = PyException::type_error(format!(
                "cannot convert dictionary update sequence element #{i} to a sequence"
            ));
            return Ok((pairs, Some(e)));
        };
        match <[Value; 2]>::try_from(kv) {
            Ok([k, v]) => pairs.push((k, v)),
            Err(kv) => {
                let e = PyException::value_error(format!(
                    "dictionary update sequence element #{i} has length {}; 2 is required",
                    kv.len()
                ));
                return Ok((pairs, Some(e)));
            }
        }
    }
    Ok((pairs, None))
}

#[cfg(test)]
mod tests {
    use super::super::create;
    use super::super::tests::d;
    use crate::args::Args;
    use crate::objects::seq::testing::ints;
    use crate::objects::CallCtx;
    use crate::store::Store;
    use mpcluster_wire::{Dict, Value};
    use Value::{Int as I, None as N};

    #[test]
    fn create_takes_a_mapping_pairs_and_keywords() {
        let store = Store::new(10);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let mk = |pos: Vec<Value>, kw: Vec<(&str, Value)>| {
            let args = Args {
                pos,
                kw: kw.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            };
            create(&ctx, args).map(|o| o.get_value().unwrap())
        };
        // `m.dict(a=1)` (captured: keywords to create).
        assert_eq!(mk(vec![], vec![("a", I(1))]).unwrap(), d(&[("a", 1)]));
        let pairs = Value::List(vec![Value::tuple(["x".into(), I(1)]), Value::from("yz")]);
        let got = mk(vec![pairs], vec![("a", I(2))]).unwrap();
        let want = Dict::from_pairs([
            ("x".into(), I(1)),
            ("y".into(), "z".into()),
            ("a".into(), I(2)),
        ])
        .unwrap();
        assert_eq!(got, Value::Dict(Box::new(want)));
        assert_eq!(
            mk(vec![N, N], vec![]).unwrap_err().message(),
            "dict expected at most 1 argument, got 2"
        );
        assert_eq!(
            mk(vec![I(5)], vec![]).unwrap_err().message(),
            "'int' object is not iterable"
        );
        assert_eq!(
            mk(vec![ints(&[1])], vec![]).unwrap_err().message(),
            "cannot convert dictionary update sequence element #0 to a sequence"
        );
        assert_eq!(
            mk(vec![Value::List(vec![Value::tuple([I(1)])])], vec![])
                .unwrap_err()
                .message(),
            "dictionary update sequence element #0 has length 1; 2 is required"
        );
    }
}
