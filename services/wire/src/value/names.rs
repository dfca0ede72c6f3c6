//! What a bare global names: a class, a built-in function or a Python
//! function, and whether a class is an exception.
//!
//! A pickle says only `module.name`; the server never imports the module to
//! look. `repr` (`<class 'int'>` versus `<built-in function abs>`), the type
//! names of `TypeError` messages (`'builtin_function_or_method'`) and the
//! exception detection of `repr`/`str` need a guess, made here once from
//! naming conventions plus the short lists below. The guess is exact for
//! everything in `builtins` (CPython's `builtins` module holds only
//! lower-case types and functions and upper-case exceptions and constants).

use super::{Build, Global, Object, Value};

/// The kind of object a global most likely names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GlobalKind {
    /// A class (`type(g) is type`).
    Class,
    /// A function implemented in C (`builtin_function_or_method`).
    BuiltinFunction,
    /// A function written in Python (`function`).
    Function,
}

/// The lower-case names of `builtins` that are types, not functions.
const BUILTIN_TYPES: &[&str] = &[
    "bool",
    "bytearray",
    "bytes",
    "classmethod",
    "complex",
    "dict",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "int",
    "list",
    "map",
    "memoryview",
    "object",
    "property",
    "range",
    "reversed",
    "set",
    "slice",
    "staticmethod",
    "str",
    "super",
    "tuple",
    "type",
    "zip",
];

/// Lower-case classes of other modules that clients commonly pickle.
const LOWERCASE_CLASSES: &[(&str, &str)] = &[
    ("array", "array"),
    ("collections", "defaultdict"),
    ("collections", "deque"),
    ("_collections", "defaultdict"),
    ("_collections", "deque"),
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("datetime", "tzinfo"),
    ("functools", "partial"),
    ("operator", "attrgetter"),
    ("operator", "itemgetter"),
    ("operator", "methodcaller"),
];

/// Modules implemented in C whose lower-case globals are built-in functions.
const C_MODULES: &[&str] = &[
    "_codecs",
    "_functools",
    "_operator",
    "_socket",
    "_struct",
    "_thread",
    "binascii",
    "cmath",
    "gc",
    "marshal",
    "math",
    "operator",
    "posix",
    "select",
    "sys",
    "time",
    "zlib",
];

/// Exception classes outside `builtins` whose names do not end in
/// `Error`/`Exception`/`Warning` (the ones a manager sends: `queue.Empty`
/// travels as `_queue.Empty`).
const OTHER_EXCEPTIONS: &[(&str, &str)] =
    &[("_queue", "Empty"), ("queue", "Empty"), ("queue", "Full")];

/// Guesses what `g` names (see the module comment for the rules).
pub(crate) fn global_kind(g: &Global) -> GlobalKind {
    let last = short_name(&g.name);
    let upper = last.chars().next().is_some_and(char::is_uppercase);
    if upper
        || (g.module == "builtins" && BUILTIN_TYPES.contains(&g.name.as_str()))
        || g.module == "itertools"
        || LOWERCASE_CLASSES.contains(&(g.module.as_str(), g.name.as_str()))
    {
        GlobalKind::Class
    } else if g.module == "builtins" || C_MODULES.contains(&g.module.as_str()) {
        GlobalKind::BuiltinFunction
    } else {
        GlobalKind::Function
    }
}

/// `type(g).__name__` for a global, as CPython's `TypeError` messages show it.
pub(crate) fn global_type_name(g: &Global) -> &'static str {
    match global_kind(g) {
        GlobalKind::Class => "type",
        GlobalKind::BuiltinFunction => "builtin_function_or_method",
        GlobalKind::Function => "function",
    }
}

/// True when `g` is most likely an exception class: every upper-case name of
/// `builtins` (all of them are exceptions or warnings, the constants never
/// travel as globals), and elsewhere names ending in `Error`, `Exception` or
/// `Warning` plus the few listed in `OTHER_EXCEPTIONS`.
pub(crate) fn is_exception_class(g: &Global) -> bool {
    let last = short_name(&g.name);
    if g.module == "builtins" {
        return last.chars().next().is_some_and(char::is_uppercase);
    }
    last.ends_with("Error")
        || last.ends_with("Exception")
        || last.ends_with("Warning")
        || OTHER_EXCEPTIONS.contains(&(g.module.as_str(), g.name.as_str()))
}

/// `Outer.Inner` → `Inner`, as `type(x).__name__` shows a qualname.
pub(crate) fn short_name(qualname: &str) -> &str {
    qualname.rsplit('.').next().unwrap_or(qualname)
}

/// `type(v).__name__` for error messages, refining [`Value::type_name`] for
/// bare globals (a class is a `type`, `abs` a `builtin_function_or_method`).
pub(crate) fn py_type_name(v: &Value) -> String {
    match v {
        Value::Global(g) => global_type_name(g).to_string(),
        _ => v.type_name(),
    }
}

/// The class an opaque object is an instance of, when the pickle names it:
/// the class of `NEWOBJ`, the first argument of the rebuild helpers that
/// take one, or else the reduce callable itself (exceptions, `datetime`).
pub(crate) fn object_class(o: &Object) -> Option<&Global> {
    match &o.build {
        Build::NewObj {
            cls: Value::Global(g),
            ..
        } => Some(g),
        Build::Reduce {
            callable: Value::Global(g),
            args,
        } => {
            let rebuilds_with_class = g.is("copyreg", "_reconstructor")
                || g.is("copyreg", "__newobj__")
                || g.is("copyreg", "__newobj_ex__")
                || g.is("array", "_array_reconstructor");
            match (rebuilds_with_class, args) {
                (true, Value::Tuple(items)) => match items.first() {
                    Some(Value::Global(cls)) => Some(cls),
                    _ => None,
                },
                _ => Some(g),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(m: &str, n: &str) -> Global {
        Global::new(m, n)
    }

    #[test]
    fn kinds_follow_builtins_exactly() {
        assert_eq!(global_kind(&g("builtins", "int")), GlobalKind::Class);
        assert_eq!(global_kind(&g("builtins", "KeyError")), GlobalKind::Class);
        assert_eq!(
            global_kind(&g("builtins", "abs")),
            GlobalKind::BuiltinFunction
        );
        assert_eq!(
            global_kind(&g("builtins", "getattr")),
            GlobalKind::BuiltinFunction
        );
        assert_eq!(global_kind(&g("math", "sqrt")), GlobalKind::BuiltinFunction);
        assert_eq!(global_kind(&g("__main__", "work")), GlobalKind::Function);
        assert_eq!(global_kind(&g("mod", "Outer.Inner")), GlobalKind::Class);
        assert_eq!(global_kind(&g("datetime", "datetime")), GlobalKind::Class);
    }

    #[test]
    fn type_names_match_cpython_messages() {
        // `abs < len` → "... instances of 'builtin_function_or_method' and ..."
        assert_eq!(
            global_type_name(&g("builtins", "abs")),
            "builtin_function_or_method"
        );
        assert_eq!(global_type_name(&g("builtins", "str")), "type");
        assert_eq!(global_type_name(&g("__main__", "f")), "function");
    }

    #[test]
    fn exceptions() {
        assert!(is_exception_class(&g("builtins", "KeyError")));
        assert!(is_exception_class(&g("builtins", "StopIteration")));
        assert!(is_exception_class(&g("_queue", "Empty")));
        assert!(is_exception_class(&g("threading", "BrokenBarrierError")));
        assert!(!is_exception_class(&g("builtins", "range")));
        assert!(!is_exception_class(&g("datetime", "datetime")));
        assert!(!is_exception_class(&g("mymod", "Point")));
    }

    #[test]
    fn classes_of_objects() {
        let o = Object::reduce(
            Value::global("copyreg", "_reconstructor"),
            vec![
                Value::global("m", "C"),
                Value::global("builtins", "object"),
                Value::None,
            ],
        );
        assert_eq!(object_class(&o), Some(&g("m", "C")));
        let o = Object::new_obj(Value::global("m", "D"), vec![], None);
        assert_eq!(object_class(&o), Some(&g("m", "D")));
        let o = Object::reduce(Value::global("builtins", "KeyError"), vec![]);
        assert_eq!(object_class(&o), Some(&g("builtins", "KeyError")));
    }
}
