//! `list.sort` on top of Python's `<` (`ord.rs`): CPython 3.11's run
//! detection and binary insertion, so that small lists (the common case for
//! a shared list) come out exactly as CPython orders them even with
//! inconsistent keys such as NaNs, and fail on the same pair of items with
//! the same `TypeError`. The sort works on a permutation of indices; a
//! failed sort leaves the list as CPython's does, partly sorted: the items
//! in the order the sort had reached, reversed back for `reverse=True`
//! (exactly CPython's state below 64 items, where no merge runs). Indices
//! into the permutation and the keys are derived from their own lengths,
//! never from peer data.

use super::ord::py_lt;
use super::{OpError, Value};

/// `list.sort(reverse=...)`: stable, using only `<`, failing with Python's
/// `TypeError` when two items cannot be ordered, and then leaving the
/// items where the sort had got to, as CPython does.
pub fn py_sort(items: &mut [Value], reverse: bool) -> Result<(), OpError> {
    let (perm, result) = sorted_permutation(items, reverse);
    apply_permutation(items, &perm);
    result
}

/// The order in which `list.sort` would place `keys`: `perm[i]` is the index
/// of the key that ends up at position `i`. When two keys cannot be
/// compared, the order reached so far (CPython's list contents after its
/// failed sort), with the error.
///
/// The algorithm is CPython 3.11's `list_sort_impl` up to its merges: runs
/// found by `count_run` (a strictly descending run is reversed), extended to
/// `minrun` by binary insertion. For fewer than 64 items that is the whole
/// sort, so the comparisons made, and therefore the result with inconsistent
/// keys such as NaNs and the pair named by a `TypeError`, are CPython's.
/// Longer inputs merge runs pairwise without galloping: the same result for
/// any consistent order, O(n log n) comparisons.
pub(crate) fn sorted_permutation(
    keys: &[Value],
    reverse: bool,
) -> (Vec<usize>, Result<(), OpError>) {
    let n = keys.len();
    // CPython sorts `reverse=True` by reversing, sorting, and reversing back
    // (on failure too), which keeps equal items in their original order.
    let mut perm: Vec<usize> = if reverse {
        (0..n).rev().collect()
    } else {
        (0..n).collect()
    };
    let result = sort_in_place(keys, &mut perm);
    if reverse {
        perm.reverse();
    }
    (perm, result)
}

/// CPython's sort of `perm` (indices into `keys`) by `keys`, as far as it
/// gets.
fn sort_in_place(keys: &[Value], perm: &mut [usize]) -> Result<(), OpError> {
    let n = perm.len();
    if n < 2 {
        return Ok(());
    }
    let lt = |a: usize, b: usize| -> Result<bool, OpError> {
        match (keys.get(a), keys.get(b)) {
            (Some(x), Some(y)) => py_lt(x, y),
            // Indices come from `0..n`; unreachable, but never panic.
            _ => Ok(false),
        }
    };
    let minrun = compute_minrun(n);
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut lo = 0;
    while lo < n {
        let rest = &mut perm[lo..];
        let (mut len, descending) = count_run(rest, &lt)?;
        if descending {
            rest[..len].reverse();
        }
        if len < minrun {
            let force = rest.len().min(minrun);
            binary_insertion(&mut rest[..force], len, &lt)?;
            len = force;
        }
        runs.push((lo, len));
        lo += len;
    }
    let mut buf = Vec::with_capacity(n / 2 + 1);
    while runs.len() > 1 {
        let mut merged = Vec::with_capacity(runs.len() / 2 + 1);
        for pair in runs.chunks(2) {
            match *pair {
                [(start, a), (_, b)] => {
                    merge(&mut perm[start..start + a + b], a, &mut buf, &lt)?;
                    merged.push((start, a + b));
                }
                [single] => merged.push(single),
                _ => {}
            }
        }
        runs = merged;
    }
    Ok(())
}

/// `merge_compute_minrun`: `n` itself below 64, else a length in 32..=64
/// that splits `n` into a power of two of runs, or slightly fewer.
fn compute_minrun(mut n: usize) -> usize {
    let mut r = 0;
    while n >= 64 {
        r |= n & 1;
        n >>= 1;
    }
    n + r
}

type Lt<'a> = dyn Fn(usize, usize) -> Result<bool, OpError> + 'a;

/// `count_run`: the length of the run at the start of `s` (at least 1), and
/// whether it is strictly descending. The first comparison is `s[1] < s[0]`,
/// which is why `sorted([1, 'a'])` complains about `'str' and 'int'`.
fn count_run(s: &[usize], lt: &Lt<'_>) -> Result<(usize, bool), OpError> {
    let mut pairs = s.windows(2);
    let Some(first) = pairs.next() else {
        return Ok((s.len(), false));
    };
    let descending = lt(first[1], first[0])?;
    let mut n = 2;
    for w in pairs {
        if lt(w[1], w[0])? != descending {
            break;
        }
        n += 1;
    }
    Ok((n, descending))
}

/// `binarysort`: `s[..sorted]` is sorted; insert the rest one by one after
/// the last item not greater than it (stable).
fn binary_insertion(s: &mut [usize], sorted: usize, lt: &Lt<'_>) -> Result<(), OpError> {
    for start in sorted.max(1)..s.len() {
        let pivot = s[start];
        let (mut l, mut r) = (0, start);
        while l < r {
            let p = l + (r - l) / 2;
            if lt(pivot, s[p])? {
                r = p;
            } else {
                l = p + 1;
            }
        }
        s[l..=start].rotate_right(1);
    }
    Ok(())
}

/// Stable merge of the sorted halves `s[..mid]` and `s[mid..]`: an item of
/// the right half goes first only when strictly less.
fn merge(s: &mut [usize], mid: usize, buf: &mut Vec<usize>, lt: &Lt<'_>) -> Result<(), OpError> {
    buf.clear();
    buf.extend_from_slice(&s[..mid]);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < buf.len() && j < s.len() {
        if lt(s[j], buf[i])? {
            s[k] = s[j];
            j += 1;
        } else {
            s[k] = buf[i];
            i += 1;
        }
        k += 1;
    }
    // Whatever remains of the left half fills the gap before `j`.
    let rest = &buf[i..];
    s[k..k + rest.len()].copy_from_slice(rest);
    Ok(())
}

/// Reorders `items` so that position `i` holds the item formerly at
/// `perm[i]`.
pub(crate) fn apply_permutation(items: &mut [Value], perm: &[usize]) {
    let mut taken: Vec<Value> = items
        .iter_mut()
        .map(|v| std::mem::replace(v, Value::None))
        .collect();
    for (slot, &src) in items.iter_mut().zip(perm) {
        if let Some(v) = taken.get_mut(src) {
            *slot = std::mem::replace(v, Value::None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> Value {
        Value::Int(i)
    }

    /// Ints, with `f64::NAN` standing for a NaN float.
    fn nums(xs: &[f64]) -> Vec<Value> {
        xs.iter()
            .map(|&x| {
                if x.is_nan() {
                    Value::Float(x)
                } else {
                    int(x as i64)
                }
            })
            .collect()
    }

    fn same(got: &[Value], want: &[f64]) -> bool {
        got.len() == want.len()
            && got.iter().zip(want).all(|(g, &w)| match g {
                Value::Float(f) => f.is_nan() && w.is_nan(),
                Value::Int(i) => *i as f64 == w,
                _ => false,
            })
    }

    const NAN: f64 = f64::NAN;

    #[test]
    fn sort_matches_cpython_with_nans() {
        // Outputs of CPython 3.11 `sorted(...)` on the same lists.
        let mut v = nums(&[3.0, NAN, 1.0, 2.0]);
        py_sort(&mut v, false).unwrap();
        assert!(same(&v, &[3.0, NAN, 1.0, 2.0]));

        let mut v = nums(&[NAN, 3.0, 1.0, 2.0, NAN, 0.0]);
        py_sort(&mut v, false).unwrap();
        assert!(same(&v, &[NAN, 0.0, 1.0, 2.0, 3.0, NAN]));

        let input = [
            4.0, 1.0, NAN, 1.0, 6.0, 13.0, 2.0, NAN, 20.0, 1.0, 12.0, NAN, 4.0, 4.0, 18.0, 5.0,
            NAN, 17.0, 18.0, 6.0, 13.0, 14.0, 14.0, 7.0, 7.0, 9.0, 14.0, 2.0, NAN, 4.0, 13.0, 2.0,
            11.0, 18.0, 2.0, 8.0, 2.0, 9.0, 12.0, 11.0,
        ];
        let mut v = nums(&input);
        py_sort(&mut v, false).unwrap();
        let want = [
            1.0, 1.0, 1.0, 2.0, 2.0, 4.0, NAN, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 5.0, 6.0, 13.0, NAN,
            6.0, 7.0, 7.0, 8.0, 9.0, 9.0, 11.0, 11.0, 12.0, 12.0, 13.0, 13.0, 14.0, 14.0, 14.0,
            17.0, 18.0, 20.0, NAN, 18.0, NAN, NAN, 18.0,
        ];
        assert!(same(&v, &want), "{v:?}");
        let mut v = nums(&input);
        py_sort(&mut v, true).unwrap();
        let want = [
            NAN, NAN, 20.0, 12.0, NAN, 18.0, NAN, 18.0, 14.0, 14.0, NAN, 18.0, 17.0, 14.0, 13.0,
            13.0, 13.0, 12.0, 11.0, 11.0, 9.0, 9.0, 8.0, 7.0, 7.0, 6.0, 6.0, 5.0, 4.0, 4.0, 4.0,
            4.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0,
        ];
        assert!(same(&v, &want), "{v:?}");
    }

    #[test]
    fn reverse_keeps_equal_items_in_original_order() {
        // sorted([1, 1.0, True, 0, 2], reverse=True) == [2, 1, 1.0, True, 0]
        let mut v = vec![int(1), Value::Float(1.0), Value::Bool(true), int(0), int(2)];
        py_sort(&mut v, true).unwrap();
        assert!(matches!(
            v.as_slice(),
            [
                Value::Int(2),
                Value::Int(1),
                Value::Float(_),
                Value::Bool(true),
                Value::Int(0)
            ]
        ));
    }

    #[test]
    fn sort_error_names_the_first_failing_pair_and_keeps_the_list() {
        // CPython: sorted([1, 'a']) and sorted([1, 2, 3, 'x', 4]) both say
        // 'str' and 'int'; sorted(['a', 1]) says 'int' and 'str'.
        let cases: [(Vec<Value>, &str); 3] = [
            (vec![int(1), Value::str("a")], "'str' and 'int'"),
            (vec![Value::str("a"), int(1)], "'int' and 'str'"),
            (
                vec![int(1), int(2), int(3), Value::str("x"), int(4)],
                "'str' and 'int'",
            ),
        ];
        for (items, pair) in cases {
            let mut v = items.clone();
            let e = py_sort(&mut v, false).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("'<' not supported between instances of {pair}")
            );
            // Each fails at the run count, before anything moved.
            assert_eq!(v, items, "list unchanged on error");
        }
        let mut v = vec![int(5), Value::None];
        assert_eq!(
            py_sort(&mut v, false).unwrap_err().to_string(),
            "'<' not supported between instances of 'NoneType' and 'int'"
        );
    }

    /// A failed sort leaves the list where CPython 3.11's leaves it (each
    /// expectation printed by CPython: `l.sort()` in a `try`, then `l`).
    #[test]
    fn a_failed_sort_leaves_cpythons_partial_order() {
        let list = |v: Vec<Value>| Value::List(v);
        let t = Value::Tuple(vec![]);
        let cases: [(Vec<Value>, bool, &str); 3] = [
            // Found by tests/python/test_random_differential.py.
            (
                vec![
                    t.clone(),
                    list(vec![]),
                    list(vec![]),
                    list(vec![Value::None]),
                ],
                true,
                "[(), [None], [], []]",
            ),
            (
                vec![int(3), int(1), int(2), Value::str("x"), int(0)],
                false,
                "[1, 2, 3, 'x', 0]",
            ),
            (
                vec![int(5), int(4), int(1), int(2), int(3), Value::None, int(0)],
                false,
                "[1, 2, 3, 4, 5, None, 0]",
            ),
        ];
        for (items, reverse, want) in cases {
            let mut v = items;
            assert!(py_sort(&mut v, reverse).is_err());
            assert_eq!(Value::List(v).repr(), want);
        }
        // reverse=True failing at its first comparison: back as it was.
        let items = vec![int(5), int(4), int(1), int(2), int(3), Value::None, int(0)];
        let mut v = items.clone();
        assert!(py_sort(&mut v, true).is_err());
        assert_eq!(v, items);
    }

    /// A small deterministic generator (no `rand` needed in tests).
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn long_sorts_are_stable_and_correct() {
        let mut seed = 42;
        for n in [63, 64, 65, 100, 1000, 5000] {
            // Keys 0..50 as int or float alternately: equal keys of two types
            // reveal stability.
            let items: Vec<Value> = (0..n)
                .map(|i| {
                    let k = (lcg(&mut seed) % 50) as i64;
                    if i % 2 == 0 {
                        int(k)
                    } else {
                        Value::Float(k as f64)
                    }
                })
                .collect();
            for reverse in [false, true] {
                let mut got = items.clone();
                py_sort(&mut got, reverse).unwrap();
                let mut idx: Vec<usize> = (0..items.len()).collect();
                let key = |i: usize| match &items[i] {
                    Value::Int(k) => *k as f64,
                    Value::Float(f) => *f,
                    _ => unreachable!(),
                };
                // Rust's sort is stable; reverse=True keeps original order of ties.
                if reverse {
                    idx.sort_by(|&a, &b| key(b).partial_cmp(&key(a)).unwrap());
                } else {
                    idx.sort_by(|&a, &b| key(a).partial_cmp(&key(b)).unwrap());
                }
                for (g, &i) in got.iter().zip(&idx) {
                    assert!(
                        std::mem::discriminant(g) == std::mem::discriminant(&items[i])
                            && g == &items[i],
                        "n={n} reverse={reverse}"
                    );
                }
            }
        }
    }

    #[test]
    fn inconsistent_comparisons_never_panic() {
        let mut seed = 7;
        let mut v: Vec<Value> = (0..3000)
            .map(|_| match lcg(&mut seed) % 3 {
                0 => Value::Float(f64::NAN),
                _ => int((lcg(&mut seed) % 100) as i64),
            })
            .collect();
        let n = v.len();
        py_sort(&mut v, false).unwrap();
        assert_eq!(v.len(), n);
        assert_eq!(v.iter().filter(|x| matches!(x, Value::Float(_))).count(), {
            let mut seed = 7;
            (0..3000)
                .filter(|_| {
                    let nan = lcg(&mut seed).is_multiple_of(3);
                    if !nan {
                        lcg(&mut seed);
                    }
                    nan
                })
                .count()
        });
    }

    #[test]
    fn minrun_matches_cpython() {
        assert_eq!(compute_minrun(63), 63);
        assert_eq!(compute_minrun(64), 32);
        assert_eq!(compute_minrun(65), 33);
        assert_eq!(compute_minrun(2112), 33);
        assert_eq!(compute_minrun(1 << 20), 32);
    }
}
