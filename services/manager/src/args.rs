//! Binding a request's `args` tuple and `kwds` dict to a method signature,
//! with Python's rules.
//!
//! CPython proxies forward arguments exactly as the user wrote them
//! (`q.get(timeout=0.2)` arrives as `get () {'timeout': 0.2}`, docs/protocol.md 9.10),
//! so every method binds positional and keyword arguments against the real
//! signature of the CPython method and fails with the `TypeError` Python
//! would raise.

use crate::pyexc::PyException;
use mpcluster_wire::Value;

/// The arguments of one call.
#[derive(Clone, Debug, Default)]
pub struct Args {
    pub pos: Vec<Value>,
    pub kw: Vec<(String, Value)>,
}

/// A method signature: parameter names in order, how many are required.
#[derive(Clone, Copy, Debug)]
pub struct Sig {
    /// Shown in messages, e.g. `"list.append"` or `"Queue.put"`.
    pub name: &'static str,
    pub params: &'static [&'static str],
    pub required: usize,
    /// Built-in (C) methods take no keyword arguments.
    pub positional_only: bool,
    /// Positional parameters filled before the caller's (`self, c` of
    /// CPython's `Server` methods): counted in "takes N positional
    /// arguments" messages as Python counts them.
    pub implicit: usize,
}

impl Sig {
    /// A Python-level method: keywords allowed, `self` counted in messages
    /// ("takes from 2 to 4 positional arguments but 5 were given").
    pub const fn py(name: &'static str, params: &'static [&'static str], required: usize) -> Sig {
        Sig {
            name,
            params,
            required,
            positional_only: false,
            implicit: 1,
        }
    }

    /// A method of CPython's `Server` class called as `f(self, c, *args)`
    /// (or with more implicit leading parameters, like the fallbacks).
    pub const fn server(
        name: &'static str,
        params: &'static [&'static str],
        required: usize,
        implicit: usize,
    ) -> Sig {
        Sig {
            name,
            params,
            required,
            positional_only: false,
            implicit,
        }
    }

    /// A C builtin method: positional only.
    pub const fn c(name: &'static str, params: &'static [&'static str], required: usize) -> Sig {
        Sig {
            name,
            params,
            required,
            positional_only: true,
            implicit: 0,
        }
    }
}

/// Arguments bound to a signature's parameters, in parameter order.
#[derive(Debug)]
pub struct Bound(Vec<Option<Value>>);

impl Bound {
    /// Takes parameter `i`, `None` if it was not given.
    pub fn take(&mut self, i: usize) -> Option<Value> {
        self.0.get_mut(i).and_then(Option::take)
    }

    /// Takes a required parameter (present after a successful bind).
    pub fn req(&mut self, i: usize) -> Value {
        self.take(i).unwrap_or(Value::None)
    }
}

impl Args {
    pub fn new(pos: Vec<Value>) -> Self {
        Args {
            pos,
            kw: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pos.is_empty() && self.kw.is_empty()
    }

    /// Binds to `sig` as Python would, or the `TypeError` Python raises.
    pub fn bind(self, sig: &Sig) -> Result<Bound, PyException> {
        let n = sig.params.len();
        if sig.positional_only && !self.kw.is_empty() {
            return Err(PyException::type_error(format!(
                "{}() takes no keyword arguments",
                sig.name
            )));
        }
        // Keywords are bound before the positional arguments are counted,
        // so an unexpected keyword is what a Python function reports
        // (CPython's `initialize_locals`); a C method has none by now.
        let given = self.pos.len();
        let mut slots: Vec<Option<Value>> = Vec::with_capacity(n);
        slots.extend(self.pos.into_iter().take(n).map(Some));
        slots.resize_with(n, || None);
        for (name, v) in self.kw {
            let Some(i) = sig.params.iter().position(|p| *p == name) else {
                return Err(PyException::type_error(format!(
                    "{}() got an unexpected keyword argument '{name}'",
                    sig.name
                )));
            };
            // Invariant: `i < n == slots.len()` because `position` searched `params`.
            if slots[i].is_some() {
                return Err(PyException::type_error(format!(
                    "{}() got multiple values for argument '{name}'",
                    sig.name
                )));
            }
            slots[i] = Some(v);
        }
        if given > n {
            return Err(PyException::type_error(too_many(sig, given)));
        }
        let missing: Vec<&str> = sig.params[..sig.required]
            .iter()
            .zip(&slots)
            .filter(|(_, s)| s.is_none())
            .map(|(p, _)| *p)
            .collect();
        if !missing.is_empty() {
            return Err(PyException::type_error(missing_msg(sig, &missing, given)));
        }
        Ok(Bound(slots))
    }

    /// For methods without parameters.
    pub fn none(self, sig_name: &'static str) -> Result<(), PyException> {
        if !self.kw.is_empty() {
            return Err(PyException::type_error(format!(
                "{sig_name}() takes no keyword arguments"
            )));
        }
        if !self.pos.is_empty() {
            return Err(PyException::type_error(format!(
                "{sig_name}() takes no arguments ({} given)",
                self.pos.len()
            )));
        }
        Ok(())
    }
}

fn too_many(sig: &Sig, given: usize) -> String {
    let n = sig.params.len();
    if sig.positional_only && n == 1 && sig.required == 1 {
        return format!("{}() takes exactly one argument ({given} given)", sig.name);
    }
    let (n, given, required) = (
        n + sig.implicit,
        given + sig.implicit,
        sig.required + sig.implicit,
    );
    let takes = if required == n {
        format!("{n}")
    } else {
        format!("from {required} to {n}")
    };
    let plural = if n == 1 { "" } else { "s" };
    let were = if given == 1 { "was" } else { "were" };
    format!(
        "{}() takes {takes} positional argument{plural} but {given} {were} given",
        sig.name
    )
}

fn missing_msg(sig: &Sig, missing: &[&str], given: usize) -> String {
    if sig.positional_only {
        if sig.params.len() == 1 {
            return format!("{}() takes exactly one argument ({given} given)", sig.name);
        }
        return format!(
            "{}() expected at least {} argument{}, got {given}",
            sig.name,
            sig.required,
            if sig.required == 1 { "" } else { "s" }
        );
    }
    let names: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
    let list = match names.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => String::new(),
    };
    format!(
        "{}() missing {} required positional argument{}: {list}",
        sig.name,
        missing.len(),
        if missing.len() == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUT: Sig = Sig::py("Queue.put", &["item", "block", "timeout"], 1);
    const APPEND: Sig = Sig::c("list.append", &["object"], 1);

    #[test]
    fn binds_positional_and_keyword() {
        let args = Args {
            pos: vec![Value::Int(1)],
            kw: vec![("timeout".into(), Value::Float(0.2))],
        };
        let mut b = args.bind(&PUT).unwrap();
        assert!(matches!(b.take(0), Some(Value::Int(1))));
        assert!(b.take(1).is_none());
        assert!(matches!(b.take(2), Some(Value::Float(_))));
    }

    #[test]
    fn python_type_errors() {
        let e = Args::default().bind(&APPEND).unwrap_err();
        assert_eq!(
            e.message(),
            "list.append() takes exactly one argument (0 given)"
        );
        let e = Args::default().bind(&PUT).unwrap_err();
        assert_eq!(
            e.message(),
            "Queue.put() missing 1 required positional argument: 'item'"
        );
        let e = Args {
            pos: vec![Value::Int(1)],
            kw: vec![("item".into(), Value::Int(2))],
        }
        .bind(&PUT)
        .unwrap_err();
        assert!(e.message().contains("multiple values for argument 'item'"));
        let e = Args {
            pos: vec![],
            kw: vec![("x".into(), Value::Int(2))],
        }
        .bind(&APPEND)
        .unwrap_err();
        assert_eq!(e.message(), "list.append() takes no keyword arguments");
        let e = Args::new(vec![Value::None; 4]).bind(&PUT).unwrap_err();
        assert_eq!(
            e.message(),
            "Queue.put() takes from 2 to 4 positional arguments but 5 were given"
        );
        // A Python function reports a wrong keyword before too many
        // positional arguments, and a keyword that repeats one of them.
        let four_and = |name: &str| {
            let args = Args {
                pos: vec![Value::None; 4],
                kw: vec![(name.to_string(), Value::None)],
            };
            args.bind(&PUT).unwrap_err().message()
        };
        assert_eq!(
            four_and("key"),
            "Queue.put() got an unexpected keyword argument 'key'"
        );
        assert_eq!(
            four_and("timeout"),
            "Queue.put() got multiple values for argument 'timeout'"
        );
    }
}
