//! [`StatusWatermarkValve`]: Flink's `StatusWatermarkValve` — combines the watermarks
//! and watermark statuses of N input channels into one output watermark and status.
//!
//! The output watermark is the minimum over the *aligned* active channels and never
//! goes back. An idle channel leaves the minimum (its watermarks are ignored while it
//! is idle); when every channel is idle the output turns `Idle`. A channel that turns
//! active again is only aligned (counted in the minimum) once its watermark catches up
//! with the output watermark, so its return never pulls event time backwards. An
//! ended channel is given `Watermark(MAX_WATERMARK)` by the caller.

use crate::runtime::message::{MIN_WATERMARK, Timestamp, WatermarkStatus};

/// What the valve tells the caller to emit downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValveOutput {
    Watermark(Timestamp),
    Status(WatermarkStatus),
}

#[derive(Debug, Clone, Copy)]
struct InputChannelStatus {
    watermark: Timestamp,
    status: WatermarkStatus,
    /// Counted in the output minimum (active and caught up with the output watermark).
    is_watermark_aligned: bool,
}

#[derive(Debug, Clone)]
pub struct StatusWatermarkValve {
    channels: Vec<InputChannelStatus>,
    last_output_watermark: Timestamp,
    last_output_status: WatermarkStatus,
}

impl StatusWatermarkValve {
    /// A valve over `num_channels` active channels, all at `MIN_WATERMARK`.
    pub fn new(num_channels: usize) -> Self {
        StatusWatermarkValve {
            channels: vec![
                InputChannelStatus {
                    watermark: MIN_WATERMARK,
                    status: WatermarkStatus::Active,
                    is_watermark_aligned: true,
                };
                num_channels
            ],
            last_output_watermark: MIN_WATERMARK,
            last_output_status: WatermarkStatus::Active,
        }
    }

    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    /// The last watermark output (`MIN_WATERMARK` before the first).
    pub fn current_watermark(&self) -> Timestamp {
        self.last_output_watermark
    }

    /// The last status output.
    pub fn current_status(&self) -> WatermarkStatus {
        self.last_output_status
    }

    /// Whether channel `channel` is currently idle (false for an unknown channel).
    pub fn is_channel_idle(&self, channel: usize) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|c| c.status == WatermarkStatus::Idle)
    }

    /// A watermark from `channel`. Returns the new combined watermark if it advanced
    /// (min over aligned active channels; never goes back). Ignored while the channel
    /// or the whole valve is idle, or for an unknown channel.
    pub fn input_watermark(&mut self, channel: usize, watermark: Timestamp) -> Option<ValveOutput> {
        if self.last_output_status == WatermarkStatus::Idle {
            return None;
        }
        let ch = self.channels.get_mut(channel)?;
        if ch.status == WatermarkStatus::Idle || watermark <= ch.watermark {
            return None;
        }
        ch.watermark = watermark;
        if !ch.is_watermark_aligned && watermark >= self.last_output_watermark {
            ch.is_watermark_aligned = true;
        }
        self.advance_to_min_of_aligned()
    }

    /// A status change of `channel`. Returns what to emit downstream, in order.
    pub fn input_status(&mut self, channel: usize, status: WatermarkStatus) -> Vec<ValveOutput> {
        let mut out = Vec::new();
        let last = self.last_output_watermark;
        let Some(ch) = self.channels.get_mut(channel) else {
            return out;
        };
        match (status, ch.status) {
            (WatermarkStatus::Idle, WatermarkStatus::Active) => {
                ch.status = WatermarkStatus::Idle;
                ch.is_watermark_aligned = false;
                let was_holding_back = ch.watermark == last;
                if self
                    .channels
                    .iter()
                    .all(|c| c.status == WatermarkStatus::Idle)
                {
                    // The last active channel went idle: let the output go as far as
                    // any channel got, then turn idle.
                    if was_holding_back {
                        out.extend(self.advance_to_max_of_all());
                    }
                    self.last_output_status = WatermarkStatus::Idle;
                    out.push(ValveOutput::Status(WatermarkStatus::Idle));
                } else if was_holding_back {
                    out.extend(self.advance_to_min_of_aligned());
                }
            }
            (WatermarkStatus::Active, WatermarkStatus::Idle) => {
                ch.status = WatermarkStatus::Active;
                if ch.watermark >= last {
                    ch.is_watermark_aligned = true;
                }
                if self.last_output_status == WatermarkStatus::Idle {
                    self.last_output_status = WatermarkStatus::Active;
                    out.push(ValveOutput::Status(WatermarkStatus::Active));
                }
            }
            _ => {}
        }
        out
    }

    fn advance_to_min_of_aligned(&mut self) -> Option<ValveOutput> {
        let min = self
            .channels
            .iter()
            .filter(|c| c.is_watermark_aligned)
            .map(|c| c.watermark)
            .min()?;
        self.advance_to(min)
    }

    fn advance_to_max_of_all(&mut self) -> Option<ValveOutput> {
        let max = self.channels.iter().map(|c| c.watermark).max()?;
        self.advance_to(max)
    }

    fn advance_to(&mut self, watermark: Timestamp) -> Option<ValveOutput> {
        (watermark > self.last_output_watermark).then(|| {
            self.last_output_watermark = watermark;
            ValveOutput::Watermark(watermark)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::message::MAX_WATERMARK;
    use WatermarkStatus::{Active, Idle};

    fn wm(t: Timestamp) -> Option<ValveOutput> {
        Some(ValveOutput::Watermark(t))
    }

    #[test]
    fn outputs_the_min_over_channels_and_never_goes_back() {
        let mut v = StatusWatermarkValve::new(3);
        assert_eq!(v.input_watermark(0, 10), None);
        assert_eq!(v.input_watermark(1, 5), None);
        assert_eq!(v.input_watermark(2, 7), wm(5));
        assert_eq!(v.input_watermark(1, 20), wm(7));
        // A channel's own watermark going back is ignored.
        assert_eq!(v.input_watermark(2, 3), None);
        assert_eq!(v.input_watermark(2, 9), wm(9));
        assert_eq!(
            v.input_watermark(0, 12),
            None,
            "still held at 9 by channel 2"
        );
        assert_eq!(v.current_watermark(), 9);
        assert_eq!(v.input_watermark(2, 30), wm(12));
        assert_eq!(v.input_watermark(7, 100), None, "unknown channel ignored");
    }

    #[test]
    fn idle_channels_leave_the_min_and_all_idle_turns_the_output_idle() {
        let mut v = StatusWatermarkValve::new(2);
        v.input_watermark(0, 10);
        assert_eq!(v.input_watermark(1, 4), wm(4));
        // Channel 1 holds the output back; when it goes idle the min moves to channel 0.
        assert_eq!(v.input_status(1, Idle), vec![ValveOutput::Watermark(10)]);
        // Watermarks of an idle channel are ignored.
        assert_eq!(v.input_watermark(1, 50), None);
        assert_eq!(v.input_watermark(0, 15), wm(15));
        // The last active channel goes idle: output turns idle.
        assert_eq!(v.input_status(0, Idle), vec![ValveOutput::Status(Idle)]);
        assert_eq!(v.current_status(), Idle);
        assert_eq!(v.input_watermark(0, 100), None, "ignored while idle");
        // Repeated status is not re-emitted.
        assert!(v.input_status(0, Idle).is_empty());
        assert_eq!(v.input_status(0, Active), vec![ValveOutput::Status(Active)]);
        assert!(v.input_status(0, Active).is_empty());
        assert_eq!(v.input_watermark(0, 20), wm(20));
    }

    #[test]
    fn all_idle_advances_to_the_max_when_the_holder_goes_idle() {
        let mut v = StatusWatermarkValve::new(2);
        v.input_watermark(0, 30);
        assert_eq!(v.input_watermark(1, 10), wm(10));
        assert_eq!(v.input_status(0, Idle), vec![]);
        assert_eq!(
            v.input_status(1, Idle),
            vec![ValveOutput::Watermark(30), ValveOutput::Status(Idle)]
        );
    }

    #[test]
    fn a_returning_channel_is_aligned_only_once_it_catches_up() {
        let mut v = StatusWatermarkValve::new(2);
        v.input_watermark(0, 5);
        assert_eq!(v.input_watermark(1, 5), wm(5));
        v.input_status(1, Idle);
        assert_eq!(v.input_watermark(0, 100), wm(100));
        assert!(v.input_status(1, Active).is_empty());
        // Channel 1 is behind (5 < 100): it does not hold the output back.
        assert_eq!(v.input_watermark(1, 50), None);
        assert_eq!(v.input_watermark(0, 200), wm(200));
        // Once caught up it counts again.
        assert_eq!(v.input_watermark(1, 250), None);
        assert_eq!(v.input_watermark(0, 300), wm(250));
        assert_eq!(v.input_watermark(1, 400), wm(300));
    }

    #[test]
    fn ended_channels_reach_max_watermark() {
        let mut v = StatusWatermarkValve::new(2);
        v.input_watermark(0, 7);
        assert_eq!(v.input_watermark(1, MAX_WATERMARK), wm(7));
        assert_eq!(v.input_watermark(0, MAX_WATERMARK), wm(MAX_WATERMARK));
        assert_eq!(v.current_watermark(), MAX_WATERMARK);
    }
}
