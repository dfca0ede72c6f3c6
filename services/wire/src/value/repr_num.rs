//! `repr` of floats and complex numbers, digit for digit as CPython prints
//! them.
//!
//! CPython's `float_repr` asks `PyOS_double_to_string(x, 'r', 0,
//! Py_DTSF_ADD_DOT_0)` for the shortest string that reads back as the same
//! double, then lays the digits out in positional notation when the decimal
//! exponent is in `-4..16` and in exponent notation otherwise (`1e+16`,
//! `1e-05`: a sign and at least two exponent digits). Rust's `{:e}` gives the
//! same shortest round-trip digits, so only the layout is done here.
//! `complex_repr` formats both parts the same way without the `.0`, the
//! imaginary part with a forced sign, and drops the real part and the
//! parentheses when the real part is `+0.0`.

/// `repr(f)` for a float.
pub(crate) fn float_repr(f: f64) -> String {
    let mut out = String::new();
    write_float(&mut out, f, true, false);
    out
}

/// `repr(complex(re, im))`.
pub(crate) fn complex_repr(re: f64, im: f64) -> String {
    let mut out = String::new();
    if re == 0.0 && re.is_sign_positive() {
        write_float(&mut out, im, false, false);
        out.push('j');
    } else {
        out.push('(');
        write_float(&mut out, re, false, false);
        write_float(&mut out, im, false, true);
        out.push_str("j)");
    }
    out
}

/// Appends `f` in CPython's `'r'` format. `add_dot_0` appends `.0` to an
/// integral value in positional notation (floats, not complex parts);
/// `force_sign` writes `+` before non-negative values (`Py_DTSF_SIGN`),
/// including NaN, whose sign CPython never shows as `-`.
pub(crate) fn write_float(out: &mut String, f: f64, add_dot_0: bool, force_sign: bool) {
    if f.is_nan() {
        if force_sign {
            out.push('+');
        }
        out.push_str("nan");
        return;
    }
    if f.is_sign_negative() {
        out.push('-');
    } else if force_sign {
        out.push('+');
    }
    if f.is_infinite() {
        out.push_str("inf");
        return;
    }
    // Shortest round-trip digits: "d.ddde<exp>" (or "de<exp>").
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    // Rust always writes a decimal exponent after 'e'.
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let (digits, exp) = even_on_tie(f.abs(), digits, exp);
    let ndigits = digits.len() as i32;
    // Position of the decimal point relative to the digits, as dtoa's decpt.
    let decpt = exp + 1;
    if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(digits.len().min(1));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(&digits);
    } else if decpt >= ndigits {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (decpt - ndigits) as usize));
        if add_dot_0 {
            out.push_str(".0");
        }
    } else {
        let (int_part, frac) = digits.split_at(decpt as usize);
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac);
    }
}

/// Breaks an exact tie the way CPython does.
///
/// When the double lies exactly halfway between two shortest decimal
/// candidates that both read back as it, CPython's `dtoa` (mode 0, round
/// half even) picks the one with an even last digit, while Rust's shortest
/// formatting picks the upper one: 562949953421312.25 is
/// `562949953421312.2` in CPython, `562949953421312.3` from `{:e}`. With
/// `v = m * 2**e`, `m` odd after removing its trailing zeros, the value is
/// such a midpoint of the candidates `d` and `d ± 1` (scaled by `10**q`)
/// exactly when `2 * v == (2*d ± 1) * 10**q`, which integer arithmetic
/// decides without big numbers (the candidates have at most 17 digits).
fn even_on_tie(v: f64, digits: String, exp: i32) -> (String, i32) {
    match tie_alternative(v, &digits, exp) {
        Some(alt) => alt,
        None => (digits, exp),
    }
}

fn tie_alternative(v: f64, digits: &str, exp: i32) -> Option<(String, i32)> {
    let d: u128 = digits.parse().ok()?;
    if d.is_multiple_of(2) {
        return None;
    }
    // The value of `digits` is d * 10**q.
    let q = exp - (digits.len() as i32 - 1);
    let bits = v.to_bits();
    let frac = bits & ((1u64 << 52) - 1);
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let (m, e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    if m == 0 {
        return None;
    }
    let t = m.trailing_zeros() as i32;
    let odd = u128::from(m >> t);
    // 2v = odd * 2**(e + 1 + t) must equal an odd number times 10**q, so
    // the powers of two must match exactly.
    if e + 1 + t != q {
        return None;
    }
    let n = if q >= 0 {
        let p = 5u128.checked_pow(q as u32)?;
        if odd % p != 0 {
            return None;
        }
        odd / p
    } else {
        odd.checked_mul(5u128.checked_pow(q.unsigned_abs())?)?
    };
    let alt = if n == 2 * d + 1 {
        d + 1
    } else if n + 1 == 2 * d {
        d - 1
    } else {
        return None;
    };
    let text = alt.to_string();
    let alt_exp = q + text.len() as i32 - 1;
    let trimmed = text.trim_end_matches('0');
    if trimmed.is_empty() {
        return None;
    }
    // Both candidates are equally close; the other one must still read
    // back as `v` (the rounding interval is not always symmetric).
    let back: f64 = format!("{trimmed}e{}", alt_exp - (trimmed.len() as i32 - 1))
        .parse()
        .ok()?;
    (back.to_bits() == v.to_bits()).then(|| (trimmed.to_string(), alt_exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_layout() {
        // (value, repr(value)) from CPython 3.11.
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (0.00012345, "0.00012345"),
            (1.5e-7, "1.5e-07"),
            (1e22, "1e+22"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (123456.789, "123456.789"),
            (0.30000000000000004, "0.30000000000000004"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "nan"),
            (100.0, "100.0"),
            (1.25e-3, "0.00125"),
            (std::f64::consts::PI, "3.141592653589793"),
        ];
        for &(f, want) in cases {
            assert_eq!(float_repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn random_bit_patterns_match_cpython() {
        // (bits, repr) pairs printed by CPython 3.11 for
        // `struct.unpack('<d', ...)` of random 8-byte patterns.
        let cases: &[(u64, &str)] = &[
            // Exact ties between two shortest candidates: even digit wins.
            (0x4300000000000002, "562949953421312.2"),
            (0x4300000000000004, "562949953421312.5"),
            (0x4300000000000006, "562949953421312.8"),
            (0x430000000000000A, "562949953421313.2"),
            (0x430000000000000E, "562949953421313.8"),
            (0x4300000000000016, "562949953421314.8"),
            (0x4310000000000002, "1125899906842624.5"),
            (0x4330000000000001, "4503599627370497.0"),
            (0x4340000000000001, "9007199254740994.0"),
            (0x4350000000000001, "1.8014398509481988e+16"),
            (0x4360000000000000, "3.602879701896397e+16"),
            (0x43B0000000000001, "1.1529215046068472e+18"),
            (0x0000000000000006, "3e-323"),
            (0x3FC0000000000001, "0.12500000000000003"),
            (0x3FB999999999999A, "0.1"),
            (0x4340000000000001, "9007199254740994.0"),
            (0x3F1A36E2EB1C432D, "0.0001"),
            (0x3EE4F8B588E368F1, "1e-05"),
            (0x42D6BCC41E900000, "100000000000000.0"),
            (0x4341C37937E08000, "1e+16"),
            (0xC281494C73CF256D, "-2375814117860.678"),
            (0xEC99108DDB5B5FAB, "-1.3500778693949305e+215"),
            (0x41A4D7C1C7FDE805, "174842083.9959108"),
            (0xDAE445508201E2BD, "-7.02551513787579e+129"),
            (0x3F8D6B79965EDA32, "0.014365148450321195"),
            (0x830C71C2CDCC6929, "-5.5671214701162194e-294"),
            (0xC2FFFE7979CB9E86, "-562845122869736.4"),
            (0x2FA91425CB008853, "4.2301541954837196e-79"),
            (0x4073EDC618187993, "318.8608628231097"),
            (0x17362F25244CAF9C, "7.419349725233877e-197"),
            (0xC394DD3F89E7D15F, "-3.7585692803598534e+17"),
            (0x0AB8AB67A26B7F62, "5.134343736917061e-257"),
            (0xC1310734986E86CB, "-1115956.595436501"),
            (0x73F778AAF6FA5DB8, "4.201212419249933e+250"),
            (0xC2F99753A7677796, "-450203747776377.4"),
            (0x28518867A66B0D38, "1.7798922711883367e-114"),
            (0x424716849F8558A6, "198324076298.69257"),
            (0x0F3EBDD3102B938B, "3.021401773263413e-235"),
            (0x3FF17D0B09208A65, "1.0930281025436213"),
            (0x07B37E1499809225, "1.441290431137176e-271"),
            (0x40A468AEC7321CC0, "2612.341363492975"),
            (0x97491E2370C6A5B8, "-1.6800925191972358e-196"),
            (0x423094EAD7A94DED, "71217895337.3044"),
            (0xA3EA284D3BD03346, "-1.1246231289675419e-135"),
        ];
        for &(bits, want) in cases {
            assert_eq!(float_repr(f64::from_bits(bits)), want, "{bits:#x}");
        }
    }

    #[test]
    fn complex_layout() {
        // (re, im, repr(complex(re, im))) from CPython 3.11.
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let cases: &[(f64, f64, &str)] = &[
            (1.0, 2.0, "(1+2j)"),
            (0.0, 2.0, "2j"),
            (0.0, -0.0, "-0j"),
            (-0.0, 0.0, "(-0+0j)"),
            (-0.0, -1.0, "(-0-1j)"),
            (0.0, 0.0, "0j"),
            (1.0, nan, "(1+nanj)"),
            (1.0, -nan, "(1+nanj)"),
            (nan, 1.0, "(nan+1j)"),
            (0.0, inf, "infj"),
            (inf, -inf, "(inf-infj)"),
            (1e16, 1e-5, "(1e+16+1e-05j)"),
            (1.5, -2.5, "(1.5-2.5j)"),
        ];
        for &(re, im, want) in cases {
            assert_eq!(complex_repr(re, im), want);
        }
    }
}
