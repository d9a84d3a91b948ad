//! Flink's `StatusWatermarkValve`: combines the watermarks and watermark statuses of a
//! task's input channels into one. The combined watermark is the minimum over active,
//! aligned channels and never goes back; idle channels are left out; when every channel
//! is idle the task's output turns idle, and active again when one channel resumes.

use crate::runtime::message::{MIN_WATERMARK, Timestamp, WatermarkStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValveOutput {
    Watermark(Timestamp),
    Status(WatermarkStatus),
}

#[derive(Debug, Clone, Copy)]
struct ChannelState {
    watermark: Timestamp,
    status: WatermarkStatus,
    /// Whether this channel's watermark takes part in the minimum (an active channel
    /// that is behind the combined watermark after idleness is not aligned yet).
    aligned: bool,
}

#[derive(Debug, Clone)]
pub struct StatusWatermarkValve {
    channels: Vec<ChannelState>,
    last_output_watermark: Timestamp,
    last_output_status: WatermarkStatus,
}

impl StatusWatermarkValve {
    pub fn new(num_channels: usize) -> Self {
        StatusWatermarkValve {
            channels: vec![
                ChannelState {
                    watermark: MIN_WATERMARK,
                    status: WatermarkStatus::Active,
                    aligned: true,
                };
                num_channels
            ],
            last_output_watermark: MIN_WATERMARK,
            last_output_status: WatermarkStatus::Active,
        }
    }

    pub fn current_watermark(&self) -> Timestamp {
        self.last_output_watermark
    }

    /// Returns the new combined watermark if it advanced.
    pub fn input_watermark(&mut self, channel: usize, watermark: Timestamp) -> Option<ValveOutput> {
        let state = self.channels.get_mut(channel)?;
        if state.status == WatermarkStatus::Idle || watermark <= state.watermark {
            return None;
        }
        state.watermark = watermark;
        if !state.aligned && watermark >= self.last_output_watermark {
            state.aligned = true;
        }
        self.advance_min()
    }

    /// Returns what to emit downstream, in order.
    pub fn input_status(&mut self, channel: usize, status: WatermarkStatus) -> Vec<ValveOutput> {
        let mut out = Vec::new();
        let Some(state) = self.channels.get_mut(channel) else {
            return out;
        };
        if state.status == status {
            return out;
        }
        state.status = status;
        match status {
            WatermarkStatus::Idle => {
                state.aligned = false;
                if self
                    .channels
                    .iter()
                    .all(|c| c.status == WatermarkStatus::Idle)
                {
                    // Flink: when the last channel goes idle, the max watermark over all
                    // channels may be emitted before turning idle.
                    let max = self
                        .channels
                        .iter()
                        .map(|c| c.watermark)
                        .max()
                        .unwrap_or(MIN_WATERMARK);
                    if max > self.last_output_watermark {
                        self.last_output_watermark = max;
                        out.push(ValveOutput::Watermark(max));
                    }
                    self.last_output_status = WatermarkStatus::Idle;
                    out.push(ValveOutput::Status(WatermarkStatus::Idle));
                } else if let Some(w) = self.advance_min() {
                    // The idle channel may have held the minimum back.
                    out.push(w);
                }
            }
            WatermarkStatus::Active => {
                state.aligned = state.watermark >= self.last_output_watermark;
                if self.last_output_status == WatermarkStatus::Idle {
                    self.last_output_status = WatermarkStatus::Active;
                    out.push(ValveOutput::Status(WatermarkStatus::Active));
                }
            }
        }
        out
    }

    fn advance_min(&mut self) -> Option<ValveOutput> {
        let min = self
            .channels
            .iter()
            .filter(|c| c.status == WatermarkStatus::Active && c.aligned)
            .map(|c| c.watermark)
            .min()?;
        if min > self.last_output_watermark {
            self.last_output_watermark = min;
            Some(ValveOutput::Watermark(min))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ValveOutput::*;
    use super::*;
    use WatermarkStatus::{Active, Idle};

    #[test]
    fn minimum_over_channels_never_goes_back() {
        let mut v = StatusWatermarkValve::new(2);
        assert_eq!(v.input_watermark(0, 10), None, "channel 1 has none yet");
        assert_eq!(v.input_watermark(1, 5), Some(Watermark(5)));
        assert_eq!(v.input_watermark(1, 20), Some(Watermark(10)));
        assert_eq!(
            v.input_watermark(0, 9),
            None,
            "a channel's watermark never regresses"
        );
        assert_eq!(v.current_watermark(), 10);
    }

    #[test]
    fn idle_channels_do_not_hold_back_and_realign_when_caught_up() {
        let mut v = StatusWatermarkValve::new(2);
        v.input_watermark(0, 100);
        assert_eq!(v.input_status(1, Idle), vec![Watermark(100)]);
        assert_eq!(v.input_watermark(0, 200), Some(Watermark(200)));
        assert_eq!(
            v.input_watermark(1, 50),
            None,
            "watermarks of idle channels are ignored"
        );
        assert_eq!(v.input_status(1, Active), vec![]);
        assert_eq!(
            v.input_watermark(0, 300),
            Some(Watermark(300)),
            "channel 1 behind: not aligned"
        );
        assert_eq!(
            v.input_watermark(1, 350),
            None,
            "caught up: aligned, minimum unchanged"
        );
        assert_eq!(
            v.input_watermark(0, 400),
            Some(Watermark(350)),
            "aligned again, holds the minimum"
        );
    }

    #[test]
    fn all_idle_turns_the_output_idle_and_back() {
        let mut v = StatusWatermarkValve::new(2);
        v.input_watermark(0, 7);
        assert_eq!(v.input_status(0, Idle), vec![]);
        assert_eq!(v.input_status(1, Idle), vec![Watermark(7), Status(Idle)]);
        assert_eq!(v.input_status(0, Active), vec![Status(Active)]);
    }
}
