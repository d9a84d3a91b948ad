//! Pure formatting helpers: human-readable byte sizes, counts, rates, durations, UTC
//! timestamps, watermarks and one-line summaries of SSE events. No DOM access, so they
//! are unit-tested on the host.

use eddy_api::rest::Event;

/// `1536` → `"1.5 KiB"`, `268435456` → `"256 MiB"` (binary units).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut scale: u64 = 1;
    while unit + 1 < UNITS.len() && bytes / scale >= 1024 {
        scale *= 1024;
        unit += 1;
    }
    if bytes.is_multiple_of(scale) {
        return format!("{} {}", bytes / scale, UNITS[unit]);
    }
    let value = bytes as f64 / scale as f64;
    if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Unix epoch milliseconds → `"2025-11-25 07:20:13 UTC"`; `0` → `"never"`.
pub fn utc_timestamp(epoch_ms: u64) -> String {
    if epoch_ms == 0 {
        return "never".to_string();
    }
    let secs = epoch_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `950` → `"950"`, `12_345` → `"12.3k"`, `4_200_000` → `"4.2M"` (decimal units).
pub fn human_count(n: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000_000, "T"),
        (1_000_000_000, "G"),
        (1_000_000, "M"),
        (1_000, "k"),
    ];
    for (scale, unit) in UNITS {
        if n >= scale {
            let value = n as f64 / scale as f64;
            return if value >= 100.0 {
                format!("{value:.0}{unit}")
            } else {
                format!("{value:.1}{unit}")
            };
        }
    }
    n.to_string()
}

/// Records per second: `0.0` → `"0/s"`, `1234.5` → `"1.2k/s"`, `0.5` → `"0.5/s"`.
pub fn human_rate(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        return "0/s".to_string();
    }
    if per_second < 10.0 {
        let rounded = (per_second * 10.0).round() / 10.0;
        return format!("{rounded}/s");
    }
    format!("{}/s", human_count(per_second.round() as u64))
}

/// `350` → `"350 ms"`, `1_250` → `"1.25 s"`, `125_000` → `"2m 5s"`, `7_380_000` → `"2h 3m"`.
pub fn human_duration(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms} ms");
    }
    if ms < 60_000 {
        let secs = ms as f64 / 1000.0;
        return if secs >= 10.0 {
            format!("{secs:.1} s")
        } else {
            format!("{secs:.2} s")
        };
    }
    let secs = ms / 1000;
    if secs < 3600 {
        return format!("{}m {}s", secs / 60, secs % 60);
    }
    if secs < 86_400 {
        return format!("{}h {}m", secs / 3600, secs % 3600 / 60);
    }
    format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600)
}

/// A ratio 0..=1 as a whole percentage: `0.254` → `"25%"`.
pub fn percent(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "–".to_string();
    }
    format!("{:.0}%", (ratio.clamp(0.0, 1.0) * 100.0))
}

/// An event-time watermark (epoch ms): `None` → `"none"`, else the UTC time with
/// milliseconds (`"2025-11-25 07:20:13.250"`); values before 1970 or Flink's
/// `Long.MIN_VALUE` ("no watermark yet") as `"none"`.
pub fn watermark(epoch_ms: Option<i64>) -> String {
    match epoch_ms {
        Some(ms) if ms > 0 => {
            let ms = ms as u64;
            let date_time = utc_timestamp(ms);
            let date_time = date_time.trim_end_matches(" UTC");
            format!("{date_time}.{:03}", ms % 1000)
        }
        _ => "none".to_string(),
    }
}

/// One line for the top bar's "last event".
pub fn describe_event(event: &Event) -> String {
    match event {
        Event::WorkerRegistered {
            worker_id,
            address,
            slots,
        } => {
            format!("worker {worker_id} registered at {address} with {slots} slots")
        }
        Event::WorkerLost { worker_id } => format!("worker {worker_id} lost"),
        Event::SlotsChanged { worker_id } => format!("slots changed on worker {worker_id}"),
        Event::LeaderChanged {
            leader_id: Some(id),
            term,
        } => {
            format!("master {id} is leader (term {term})")
        }
        Event::LeaderChanged {
            leader_id: None,
            term,
        } => format!("no leader (term {term})"),
        Event::JobMetrics { job_id } => format!("new metrics of job {job_id}"),
        Event::Checkpoint {
            job_id,
            checkpoint_id,
            status,
        } => format!("checkpoint {checkpoint_id} of job {job_id}: {status}"),
        Event::JobStatusChanged {
            job_id,
            status,
            attempt,
        } => format!("job {job_id} is {status} (attempt {attempt})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(256 * 1024 * 1024), "256 MiB");
        assert_eq!(human_bytes(1024 * 1024 * 1024 + 1), "1.0 GiB");
        assert_eq!(human_bytes(150 * 1024 * 1024 + 7), "150 MiB");
        assert_eq!(human_bytes(u64::MAX), "16384 PiB");
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "never");
        assert_eq!(utc_timestamp(1), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_timestamp(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_timestamp(1_764_055_213_999), "2025-11-25 07:20:13 UTC");
    }

    #[test]
    fn counts_rates_durations() {
        assert_eq!(human_count(950), "950");
        assert_eq!(human_count(12_345), "12.3k");
        assert_eq!(human_count(4_200_000), "4.2M");
        assert_eq!(human_count(250_000), "250k");
        assert_eq!(human_rate(0.0), "0/s");
        assert_eq!(human_rate(f64::NAN), "0/s");
        assert_eq!(human_rate(0.54), "0.5/s");
        assert_eq!(human_rate(1234.5), "1.2k/s");
        assert_eq!(human_duration(350), "350 ms");
        assert_eq!(human_duration(1_250), "1.25 s");
        assert_eq!(human_duration(12_500), "12.5 s");
        assert_eq!(human_duration(125_000), "2m 5s");
        assert_eq!(human_duration(7_380_000), "2h 3m");
        assert_eq!(percent(0.254), "25%");
        assert_eq!(percent(1.7), "100%");
    }

    #[test]
    fn watermarks() {
        assert_eq!(watermark(None), "none");
        assert_eq!(watermark(Some(i64::MIN)), "none");
        assert_eq!(
            watermark(Some(1_764_055_213_250)),
            "2025-11-25 07:20:13.250"
        );
    }

    #[test]
    fn events() {
        let lost = Event::WorkerLost {
            worker_id: "w1".into(),
        };
        assert_eq!(describe_event(&lost), "worker w1 lost");
        let leader = Event::LeaderChanged {
            leader_id: None,
            term: 3,
        };
        assert_eq!(describe_event(&leader), "no leader (term 3)");
    }
}
