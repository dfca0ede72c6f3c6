//! Python 2 global names in pickles of protocols 0 to 2.
//!
//! With `fix_imports` (the default), CPython 3's pickler writes Python 2
//! names for protocols below 3 (`builtins.set` → `__builtin__ set`,
//! `KeyError` → `exceptions KeyError`), and its unpickler maps them back
//! when the pickle's protocol is below 3 (`_compat_pickle`'s forward
//! tables, applied in `Unpickler.find_class`). The decoder does the same, so
//! that a protocol 2 request names `builtins.set` and re-encodes at protocol
//! 4 as something CPython 3 can import.
//!
//! The table covers the names CPython 3 writes for the standard library a
//! manager client plausibly sends (builtins, exceptions, `copyreg`, `queue`,
//! `collections`, `itertools`, `functools`, `multiprocessing`, `socket`,
//! the renamed I/O and server modules); GUI, database and HTTP modules are
//! left out. A name not covered is kept as written.

/// A global's `(module, name)`.
type Name = (&'static str, &'static str);

/// `(module, name)` pairs renamed as a whole.
const NAMES: &[(Name, Name)] = &[
    (("__builtin__", "xrange"), ("builtins", "range")),
    (("__builtin__", "reduce"), ("functools", "reduce")),
    (("__builtin__", "intern"), ("sys", "intern")),
    (("__builtin__", "unichr"), ("builtins", "chr")),
    (("__builtin__", "unicode"), ("builtins", "str")),
    (("__builtin__", "basestring"), ("builtins", "str")),
    (("__builtin__", "long"), ("builtins", "int")),
    (("itertools", "izip"), ("builtins", "zip")),
    (("itertools", "imap"), ("builtins", "map")),
    (("itertools", "ifilter"), ("builtins", "filter")),
    (("itertools", "ifilterfalse"), ("itertools", "filterfalse")),
    (("itertools", "izip_longest"), ("itertools", "zip_longest")),
    (
        ("UserDict", "IterableUserDict"),
        ("collections", "UserDict"),
    ),
    (("UserDict", "UserDict"), ("collections", "UserDict")),
    (("UserList", "UserList"), ("collections", "UserList")),
    (("UserString", "UserString"), ("collections", "UserString")),
    (("_socket", "fromfd"), ("socket", "fromfd")),
    (("socket", "_socketobject"), ("socket", "SocketType")),
    (
        ("_multiprocessing", "Connection"),
        ("multiprocessing.connection", "Connection"),
    ),
    (
        ("multiprocessing.process", "Process"),
        ("multiprocessing.context", "Process"),
    ),
    (
        ("multiprocessing.forking", "Popen"),
        ("multiprocessing.popen_fork", "Popen"),
    ),
    (
        ("multiprocessing", "AuthenticationError"),
        ("multiprocessing.context", "AuthenticationError"),
    ),
    (
        ("multiprocessing", "BufferTooShort"),
        ("multiprocessing.context", "BufferTooShort"),
    ),
    (
        ("multiprocessing", "ProcessError"),
        ("multiprocessing.context", "ProcessError"),
    ),
    (
        ("multiprocessing", "TimeoutError"),
        ("multiprocessing.context", "TimeoutError"),
    ),
    (("exceptions", "StandardError"), ("builtins", "Exception")),
];

/// Modules renamed with every name in them.
const MODULES: &[(&str, &str)] = &[
    ("__builtin__", "builtins"),
    // Python 2's `exceptions` module held the built-in exception classes.
    ("exceptions", "builtins"),
    ("copy_reg", "copyreg"),
    ("Queue", "queue"),
    ("SocketServer", "socketserver"),
    ("ConfigParser", "configparser"),
    ("repr", "reprlib"),
    ("thread", "_thread"),
    ("dummy_thread", "_dummy_thread"),
    ("markupbase", "_markupbase"),
    ("_abcoll", "collections.abc"),
    ("cPickle", "pickle"),
    ("StringIO", "io"),
    ("cStringIO", "io"),
    ("UserDict", "collections"),
    ("UserList", "collections"),
    ("UserString", "collections"),
    ("commands", "subprocess"),
];

/// The Python 3 name of a global read from a pickle of protocol < 3.
pub(crate) fn fix_import(module: String, name: String) -> (String, String) {
    if let Some((_, (m, n))) = NAMES.iter().find(|((m, n), _)| *m == module && *n == name) {
        return (m.to_string(), n.to_string());
    }
    match MODULES.iter().find(|(old, _)| *old == module) {
        Some((_, new)) => (new.to_string(), name),
        None => (module, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(m: &str, n: &str) -> (String, String) {
        fix_import(m.into(), n.into())
    }

    #[test]
    fn maps_what_cpython_3_writes_at_protocol_2() {
        // pickle.dumps(x, 2) in CPython 3.11 names these globals.
        assert_eq!(fix("__builtin__", "set"), ("builtins".into(), "set".into()));
        assert_eq!(
            fix("exceptions", "KeyError"),
            ("builtins".into(), "KeyError".into())
        );
        assert_eq!(
            fix("copy_reg", "_reconstructor"),
            ("copyreg".into(), "_reconstructor".into())
        );
        assert_eq!(
            fix("__builtin__", "xrange"),
            ("builtins".into(), "range".into())
        );
        assert_eq!(
            fix("multiprocessing", "TimeoutError"),
            ("multiprocessing.context".into(), "TimeoutError".into())
        );
    }

    #[test]
    fn leaves_python_3_names_alone() {
        assert_eq!(fix("builtins", "set"), ("builtins".into(), "set".into()));
        assert_eq!(fix("_queue", "Empty"), ("_queue".into(), "Empty".into()));
        assert_eq!(
            fix("multiprocessing", "Queue"),
            ("multiprocessing".into(), "Queue".into())
        );
    }
}
