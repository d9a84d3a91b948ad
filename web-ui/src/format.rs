//! Pure formatting helpers: human-readable byte sizes, UTC timestamps and one-line
//! summaries of SSE events. No DOM access, so they are unit-tested on the host.

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
