//! Restart strategies (Flink's `RestartBackoffTimeStrategy`): whether a failed attempt
//! is restarted, and after what pause. Names and defaults are Flink's:
//! `fixed-delay` (attempts 1, delay 1 s) and `exponential-delay` (initial backoff 1 s,
//! max backoff 1 min, multiplier 1.5, reset threshold 1 h, jitter 0.1, unlimited
//! attempts); `none` never restarts.

use std::time::{Duration, Instant};

use eddy_api::jobs::{RestartStrategyConfig, RestartStrategySpec};

/// Upper bound of any configured pause (explicit limit).
pub const MAX_RESTART_DELAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq)]
pub enum RestartStrategy {
    None,
    FixedDelay {
        attempts: u32,
        delay: Duration,
    },
    ExponentialDelay {
        initial_backoff: Duration,
        max_backoff: Duration,
        multiplier: f64,
        reset_threshold: Duration,
        jitter: f64,
        /// Restarts before the job fails; `None` = unlimited.
        attempts: Option<u32>,
    },
}

impl RestartStrategy {
    /// The default when a job names none: exponential-delay (what Flink uses for a
    /// job with checkpoints; a managed service restarts by default).
    pub fn default_strategy() -> RestartStrategy {
        RestartStrategy::from_config(&RestartStrategyConfig {
            kind: "exponential-delay".into(),
            ..RestartStrategyConfig::default()
        })
        .unwrap_or(RestartStrategy::None)
    }

    pub fn from_spec(spec: Option<&RestartStrategySpec>) -> Result<RestartStrategy, String> {
        match spec {
            None => Ok(RestartStrategy::default_strategy()),
            Some(RestartStrategySpec::Name(name)) => {
                RestartStrategy::from_config(&RestartStrategyConfig {
                    kind: name.clone(),
                    ..RestartStrategyConfig::default()
                })
            }
            Some(RestartStrategySpec::Config(c)) => RestartStrategy::from_config(c),
        }
    }

    pub fn from_config(c: &RestartStrategyConfig) -> Result<RestartStrategy, String> {
        let ms = |v: Option<u64>, default: u64, what: &str| -> Result<Duration, String> {
            let d = Duration::from_millis(v.unwrap_or(default));
            if d > MAX_RESTART_DELAY {
                return Err(format!("{what} must be at most {MAX_RESTART_DELAY:?}"));
            }
            Ok(d)
        };
        match c.kind.to_ascii_lowercase().as_str() {
            "none" | "off" | "disable" | "no-restart" | "norestart" => Ok(RestartStrategy::None),
            "fixed-delay" | "fixeddelay" => Ok(RestartStrategy::FixedDelay {
                attempts: c.attempts.unwrap_or(1),
                delay: ms(c.delay_ms, 1000, "delay_ms")?,
            }),
            "exponential-delay" | "exponentialdelay" => {
                let multiplier = c.backoff_multiplier.unwrap_or(1.5);
                if !(multiplier >= 1.0 && multiplier.is_finite()) {
                    return Err("backoff_multiplier must be at least 1".into());
                }
                let jitter = c.jitter_factor.unwrap_or(0.1);
                if !(0.0..=1.0).contains(&jitter) {
                    return Err("jitter_factor must be between 0 and 1".into());
                }
                let initial_backoff = ms(c.initial_backoff_ms, 1000, "initial_backoff_ms")?;
                let max_backoff = ms(c.max_backoff_ms, 60_000, "max_backoff_ms")?;
                if initial_backoff > max_backoff {
                    return Err("initial_backoff_ms must not exceed max_backoff_ms".into());
                }
                Ok(RestartStrategy::ExponentialDelay {
                    initial_backoff,
                    max_backoff,
                    multiplier,
                    reset_threshold: ms(
                        c.reset_backoff_threshold_ms,
                        3_600_000,
                        "reset_backoff_threshold_ms",
                    )?,
                    jitter,
                    attempts: c.attempts,
                })
            }
            other => Err(format!(
                "unknown restart strategy '{other}': use none, fixed-delay or exponential-delay"
            )),
        }
    }

    /// One line for the API, e.g. `fixed-delay (attempts 3, delay 1000 ms)`.
    pub fn describe(&self) -> String {
        match self {
            RestartStrategy::None => "none".into(),
            RestartStrategy::FixedDelay { attempts, delay } => format!(
                "fixed-delay (attempts {attempts}, delay {} ms)",
                delay.as_millis()
            ),
            RestartStrategy::ExponentialDelay {
                initial_backoff,
                max_backoff,
                multiplier,
                attempts,
                ..
            } => format!(
                "exponential-delay (initial backoff {} ms, max backoff {} ms, multiplier {multiplier}, attempts {})",
                initial_backoff.as_millis(),
                max_backoff.as_millis(),
                attempts.map_or("unlimited".to_string(), |a| a.to_string())
            ),
        }
    }
}

/// Applies a strategy to a job's successive failures.
#[derive(Debug, Clone)]
pub struct RestartTracker {
    strategy: RestartStrategy,
    /// Restarts granted since the last backoff reset.
    restarts: u32,
    backoff: Duration,
    last_failure: Option<Instant>,
}

impl RestartTracker {
    pub fn new(strategy: RestartStrategy) -> RestartTracker {
        let backoff = match &strategy {
            RestartStrategy::ExponentialDelay {
                initial_backoff, ..
            } => *initial_backoff,
            _ => Duration::ZERO,
        };
        RestartTracker {
            strategy,
            restarts: 0,
            backoff,
            last_failure: None,
        }
    }

    pub fn strategy(&self) -> &RestartStrategy {
        &self.strategy
    }

    /// A failure at `now`: the pause before the next attempt, or `None` if the job
    /// must fail. `random` in 0..1 spreads the exponential pause by the jitter factor.
    pub fn on_failure(&mut self, now: Instant, random: f64) -> Option<Duration> {
        let since_last = self.last_failure.map(|t| now.saturating_duration_since(t));
        self.last_failure = Some(now);
        match &self.strategy {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay { attempts, delay } => {
                if self.restarts >= *attempts {
                    return None;
                }
                self.restarts += 1;
                Some(*delay)
            }
            RestartStrategy::ExponentialDelay {
                initial_backoff,
                max_backoff,
                multiplier,
                reset_threshold,
                jitter,
                attempts,
            } => {
                if since_last.is_some_and(|d| d >= *reset_threshold) {
                    self.backoff = *initial_backoff;
                    self.restarts = 0;
                }
                if attempts.is_some_and(|a| self.restarts >= a) {
                    return None;
                }
                self.restarts += 1;
                let base = self.backoff;
                self.backoff = base.mul_f64(*multiplier).min(*max_backoff);
                let spread = (random.clamp(0.0, 1.0) * 2.0 - 1.0) * jitter;
                Some(base.mul_f64(1.0 + spread).min(*max_backoff))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> RestartStrategy {
        RestartStrategy::from_spec(Some(&RestartStrategySpec::Name(name.into()))).unwrap()
    }

    #[test]
    fn flink_defaults() {
        assert_eq!(
            named("fixed-delay"),
            RestartStrategy::FixedDelay {
                attempts: 1,
                delay: Duration::from_secs(1)
            }
        );
        assert_eq!(named("none"), RestartStrategy::None);
        assert_eq!(
            RestartStrategy::from_spec(None).unwrap(),
            RestartStrategy::ExponentialDelay {
                initial_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(60),
                multiplier: 1.5,
                reset_threshold: Duration::from_secs(3600),
                jitter: 0.1,
                attempts: None,
            }
        );
        assert!(
            RestartStrategy::from_spec(Some(&RestartStrategySpec::Name("sometimes".into())))
                .is_err()
        );
    }

    #[test]
    fn fixed_delay_gives_up_after_its_attempts() {
        let spec = RestartStrategySpec::Config(RestartStrategyConfig {
            kind: "fixed-delay".into(),
            attempts: Some(2),
            delay_ms: Some(50),
            ..Default::default()
        });
        let mut t = RestartTracker::new(RestartStrategy::from_spec(Some(&spec)).unwrap());
        let now = Instant::now();
        assert_eq!(t.on_failure(now, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(t.on_failure(now, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(t.on_failure(now, 0.5), None);
        assert_eq!(
            RestartTracker::new(RestartStrategy::None).on_failure(now, 0.5),
            None
        );
    }

    #[test]
    fn exponential_delay_grows_caps_and_resets() {
        let spec = RestartStrategySpec::Config(RestartStrategyConfig {
            kind: "exponential-delay".into(),
            initial_backoff_ms: Some(100),
            max_backoff_ms: Some(300),
            backoff_multiplier: Some(2.0),
            reset_backoff_threshold_ms: Some(10_000),
            jitter_factor: Some(0.0),
            ..Default::default()
        });
        let mut t = RestartTracker::new(RestartStrategy::from_spec(Some(&spec)).unwrap());
        let t0 = Instant::now();
        let pauses: Vec<_> = (0..4)
            .map(|i| {
                t.on_failure(t0 + Duration::from_millis(i), 0.5)
                    .unwrap()
                    .as_millis()
            })
            .collect();
        assert_eq!(pauses, [100, 200, 300, 300]);
        // Running longer than the reset threshold starts the backoff over.
        let later = t0 + Duration::from_secs(20);
        assert_eq!(t.on_failure(later, 0.5), Some(Duration::from_millis(100)));
    }

    #[test]
    fn jitter_spreads_the_pause() {
        let mut t = RestartTracker::new(RestartStrategy::default_strategy());
        let now = Instant::now();
        let low = t.clone().on_failure(now, 0.0).unwrap();
        let high = t.on_failure(now, 1.0).unwrap();
        assert_eq!((low.as_millis(), high.as_millis()), (900, 1100));
    }
}
