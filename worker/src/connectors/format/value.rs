//! How single values look as text, the way Flink (Java + Jackson) writes and reads them:
//! `Double.toString`/`Float.toString`, `BigDecimal.toString` (after Jackson's
//! `stripTrailingZeros`), SQL timestamps (`2026-01-01 00:02:02.29`), ISO dates, and the
//! parsers for the same texts (plus ISO-8601 timestamps) used by the decoders.

/// Nanoseconds in one day / second.
const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Java's `Double.toString`: shortest digits, plain for 1e-3 <= |v| < 1e7, else `d.dddE<n>`.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    java_from_scientific(&format!("{v:e}"))
}

/// Java's `Float.toString` (same layout as [`java_double`], float precision digits).
pub fn java_float(v: f32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    java_from_scientific(&format!("{v:e}"))
}

/// Lays out Rust's shortest scientific form (`-1.2345e-5`) the way Java does.
fn java_from_scientific(sci: &str) -> String {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        out.push('E');
        out.push_str(&exp.to_string());
    }
    out
}

/// Java's `BigDecimal.toString()` of `unscaled * 10^-scale`.
pub fn big_decimal(unscaled: i128, scale: i32) -> String {
    let negative = unscaled < 0;
    let coeff = unscaled.unsigned_abs().to_string();
    let len = coeff.len() as i64;
    let adjusted = -(scale as i64) + (len - 1);
    let mut out = String::with_capacity(coeff.len() + 8);
    if negative {
        out.push('-');
    }
    if scale >= 0 && adjusted >= -6 {
        let scale = scale as i64;
        if scale == 0 {
            out.push_str(&coeff);
        } else if len > scale {
            let point = (len - scale) as usize;
            out.push_str(&coeff[..point]);
            out.push('.');
            out.push_str(&coeff[point..]);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (scale - len) as usize));
            out.push_str(&coeff);
        }
    } else {
        out.push_str(&coeff[..1]);
        if coeff.len() > 1 {
            out.push('.');
            out.push_str(&coeff[1..]);
        }
        out.push('E');
        if adjusted >= 0 {
            out.push('+');
        }
        out.push_str(&adjusted.to_string());
    }
    out
}

/// What Jackson's `JsonNodeFactory.numberNode(BigDecimal)` then `toString` produce, as
/// Flink's CSV and JSON formats write DECIMALs: trailing zeros stripped (`572557.56`,
/// `3.7228E+5`), zero as `0`.
pub fn flink_decimal(unscaled: i128, scale: i32) -> String {
    if unscaled == 0 {
        return "0".into();
    }
    let (mut u, mut s) = (unscaled, scale);
    while u % 10 == 0 {
        u /= 10;
        s -= 1;
    }
    big_decimal(u, s)
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ISO_LOCAL_DATE: `2026-01-01`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:mm:ss` plus the fraction of a second with trailing zeros trimmed, none when zero
/// (Java's `appendFraction(NANO_OF_SECOND, 0, 9, true)`).
pub fn format_time_of_day(nanos_of_day: i64) -> String {
    let secs = nanos_of_day / 1_000_000_000;
    let frac = nanos_of_day % 1_000_000_000;
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// Flink's SQL timestamp format: `2026-01-01 00:02:02.29` (nanoseconds since the epoch).
pub fn format_sql_timestamp(nanos: i128) -> String {
    let days = nanos.div_euclid(NANOS_PER_SECOND * SECONDS_PER_DAY as i128) as i64;
    let rest = nanos.rem_euclid(NANOS_PER_SECOND * SECONDS_PER_DAY as i128) as i64;
    format!("{} {}", format_date(days), format_time_of_day(rest))
}

/// Java's `LocalDateTime.toString()` (Flink's print sink): `2026-01-01T00:00`, seconds
/// only when non-zero, the fraction in groups of 3 digits.
pub fn format_iso_timestamp(nanos: i128) -> String {
    let day_nanos = NANOS_PER_SECOND * SECONDS_PER_DAY as i128;
    let days = nanos.div_euclid(day_nanos) as i64;
    let rest = nanos.rem_euclid(day_nanos) as i64;
    let secs = rest / 1_000_000_000;
    let frac = rest % 1_000_000_000;
    let mut out = format!(
        "{}T{:02}:{:02}",
        format_date(days),
        secs / 3600,
        secs / 60 % 60
    );
    if secs % 60 != 0 || frac != 0 {
        out.push_str(&format!(":{:02}", secs % 60));
        if frac != 0 {
            if frac % 1_000_000 == 0 {
                out.push_str(&format!(".{:03}", frac / 1_000_000));
            } else if frac % 1000 == 0 {
                out.push_str(&format!(".{:06}", frac / 1000));
            } else {
                out.push_str(&format!(".{frac:09}"));
            }
        }
    }
    out
}

fn parse_digits(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `yyyy-MM-dd` → days since the epoch.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let y = parse_digits(parts.next()?)?;
    let m = parse_digits(parts.next()?)? as u32;
    let d = parse_digits(parts.next()?)? as u32;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `HH:mm[:ss[.fffffffff]]` → nanoseconds of the day.
pub fn parse_time(text: &str) -> Option<i64> {
    let (hms, frac) = match text.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (text, None),
    };
    let mut parts = hms.split(':');
    let h = parse_digits(parts.next()?)?;
    let m = parse_digits(parts.next()?)?;
    let s = parts.next().map(parse_digits).unwrap_or(Some(0))?;
    if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
        return None;
    }
    let mut nanos = 0;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nanos = parse_digits(frac)? * 10i64.pow(9 - frac.len() as u32);
    }
    Some(((h * 60 + m) * 60 + s) * 1_000_000_000 + nanos)
}

/// A timestamp in Flink's SQL form (`2026-01-01 00:00:00.000`) or ISO-8601
/// (`2026-01-01T00:00:00Z`, a trailing `Z` meaning UTC) → nanoseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Option<i128> {
    parse_fixed_timestamp(text.as_bytes()).or_else(|| parse_any_timestamp(text))
}

fn parse_any_timestamp(text: &str) -> Option<i128> {
    let text = text.trim();
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let days = parse_date(date)? as i128;
    let nanos = time.map(parse_time).unwrap_or(Some(0))? as i128;
    Some(days * NANOS_PER_SECOND * SECONDS_PER_DAY as i128 + nanos)
}

/// The one form most timestamps come in, `yyyy-MM-dd HH:mm:ss.SSS` (Flink's TIMESTAMP(3)
/// text; `T` also taken), read by position; `None` sends any other text (and any
/// invalid one, for its error) the general way.
fn parse_fixed_timestamp(b: &[u8]) -> Option<i128> {
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if b.len() != 23
        || !(at(4, b'-') && at(7, b'-') && at(13, b':') && at(16, b':') && at(19, b'.'))
        || !(at(10, b' ') || at(10, b'T'))
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)? as u32, num(8, 10)? as u32);
    let (h, mi, sec, ms) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || h > 23 || mi > 59 || sec > 59
    {
        return None;
    }
    let day_nanos = ((h * 60 + mi) * 60 + sec) * 1_000_000_000 + ms * 1_000_000;
    Some(
        days_from_civil(y, m, d) as i128 * NANOS_PER_SECOND * SECONDS_PER_DAY as i128
            + day_nanos as i128,
    )
}

/// A decimal text (`-12.5`, `3.7228E+5`) as an unscaled value at `scale`, rounded half
/// up like `BigDecimal.setScale(scale, HALF_UP)`; `None` when malformed or wider than
/// `precision` digits (Flink then yields NULL).
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Option<i128> {
    let text = text.trim();
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = int.chars().chain(frac.chars()).collect();
    let digits = digits.trim_start_matches('0');
    // value = digits * 10^(exp - frac.len()); we want value * 10^scale.
    let shift = exp as i64 - frac.len() as i64 + scale as i64;
    let mut value: i128 = 0;
    let mut round_up = false;
    let keep = digits.len() as i64 + shift.min(0);
    for (i, b) in digits.bytes().enumerate() {
        let d = (b - b'0') as i128;
        if (i as i64) < keep {
            value = value.checked_mul(10)?.checked_add(d)?;
        } else if i as i64 == keep {
            round_up = d >= 5;
        }
    }
    if shift > 0 {
        value = value.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?;
    }
    if round_up {
        value += 1;
    }
    if value >= 10i128.checked_pow(precision as u32)? {
        return None;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_java() {
        assert_eq!(java_double(1.0e10), "1.0E10");
        assert_eq!(java_double(0.1), "0.1");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(-2.5), "-2.5");
        assert_eq!(java_double(1234567.0), "1234567.0");
        assert_eq!(java_double(12345678.0), "1.2345678E7");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(1.5e-7), "1.5E-7");
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(-0.0), "-0.0");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_double(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(java_float(0.1f32), "0.1");
        assert_eq!(java_float(3.0e10f32), "3.0E10");
    }

    #[test]
    fn decimals_like_flink() {
        // Oracle q1 (DECIMAL(23,3)): 572557.560 → 572557.56, 372280.000 → 3.7228E+5.
        assert_eq!(flink_decimal(572_557_560, 3), "572557.56");
        assert_eq!(flink_decimal(372_280_000, 3), "3.7228E+5");
        assert_eq!(flink_decimal(889_613_000, 3), "889613");
        assert_eq!(flink_decimal(497_532_244, 3), "497532.244");
        assert_eq!(flink_decimal(0, 3), "0");
        assert_eq!(flink_decimal(-1_500, 3), "-1.5");
        assert_eq!(flink_decimal(1, 9), "1E-9");
        assert_eq!(big_decimal(1_000, 3), "1.000");
        assert_eq!(big_decimal(5, 3), "0.005");
    }

    #[test]
    fn timestamps_and_dates() {
        let ts = parse_timestamp("2026-01-01 00:02:02.290").unwrap();
        assert_eq!(format_sql_timestamp(ts), "2026-01-01 00:02:02.29");
        let zero = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(format_sql_timestamp(zero), "2026-01-01 00:00:00");
        assert_eq!(zero, 1_767_225_600i128 * 1_000_000_000);
        assert_eq!(format_iso_timestamp(zero), "2026-01-01T00:00");
        assert_eq!(
            format_iso_timestamp(zero + 1_500_000_000),
            "2026-01-01T00:00:01.500"
        );
        assert_eq!(format_sql_timestamp(-1_000_000), "1969-12-31 23:59:59.999");
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(format_date(19_782), "2024-02-29");
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_timestamp("2026-13-01 00:00:00"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        for text in [
            "2026-01-01 00:02:02.290",
            "2024-02-29T23:59:59.999",
            "1969-12-31 23:59:59.001",
        ] {
            assert_eq!(
                parse_fixed_timestamp(text.as_bytes()),
                parse_any_timestamp(text),
                "{text}"
            );
            assert!(parse_fixed_timestamp(text.as_bytes()).is_some());
        }
        for text in [
            "2023-02-29 00:00:00.000",
            "2026-01-01 24:00:00.000",
            "2026-01-01 00:00:00.0x0",
        ] {
            assert_eq!(parse_fixed_timestamp(text.as_bytes()), None, "{text}");
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn decimal_parsing_rounds_half_up() {
        assert_eq!(parse_decimal("572557.56", 23, 3), Some(572_557_560));
        assert_eq!(parse_decimal("3.7228E+5", 23, 3), Some(372_280_000));
        assert_eq!(parse_decimal("-1.2345", 10, 3), Some(-1_235));
        assert_eq!(parse_decimal("0.0004", 10, 3), Some(0));
        assert_eq!(parse_decimal("12345", 4, 0), None);
        assert_eq!(parse_decimal("1.2.3", 10, 2), None);
        assert_eq!(parse_decimal("abc", 10, 2), None);
    }
}
