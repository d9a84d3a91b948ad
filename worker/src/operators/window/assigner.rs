//! Window assigners of Flink SQL's windowing TVFs: TUMBLE(size[, offset]),
//! HOP(slide, size[, offset]), CUMULATE(step, max size[, offset]) and SESSION(gap).
//! A window is `[start, end)` in epoch milliseconds; it fires when time reaches
//! `end - 1` (Flink's `maxTimestamp()`).

use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowAssigner {
    Tumble {
        size: i64,
        offset: i64,
    },
    Hop {
        slide: i64,
        size: i64,
        offset: i64,
    },
    Cumulate {
        step: i64,
        max_size: i64,
        offset: i64,
    },
    Session {
        gap: i64,
    },
}

/// Flink's `TimeWindow.getWindowStartWithOffset`.
pub fn window_start(ts: Timestamp, offset: i64, size: i64) -> Timestamp {
    ts - (ts - offset).rem_euclid(size)
}

impl WindowAssigner {
    pub fn tumble(size_ms: i64) -> Result<WindowAssigner> {
        WindowAssigner::Tumble {
            size: size_ms,
            offset: 0,
        }
        .validated()
    }

    pub fn hop(slide_ms: i64, size_ms: i64) -> Result<WindowAssigner> {
        WindowAssigner::Hop {
            slide: slide_ms,
            size: size_ms,
            offset: 0,
        }
        .validated()
    }

    pub fn cumulate(step_ms: i64, max_size_ms: i64) -> Result<WindowAssigner> {
        WindowAssigner::Cumulate {
            step: step_ms,
            max_size: max_size_ms,
            offset: 0,
        }
        .validated()
    }

    pub fn session(gap_ms: i64) -> Result<WindowAssigner> {
        WindowAssigner::Session { gap: gap_ms }.validated()
    }

    /// Checks sizes as Flink's planner does (positive; HOP's size and CUMULATE's max
    /// size integral multiples of the slide/step).
    pub fn validated(self) -> Result<WindowAssigner> {
        let bad = |m: &str| Err(RuntimeError::Graph(format!("window {self:?}: {m}")));
        match self {
            WindowAssigner::Tumble { size, .. } if size <= 0 => bad("size must be positive"),
            WindowAssigner::Hop { slide, size, .. } if slide <= 0 || size <= 0 => {
                bad("slide and size must be positive")
            }
            WindowAssigner::Hop { slide, size, .. } if size % slide != 0 => {
                bad("size must be an integral multiple of slide")
            }
            WindowAssigner::Cumulate { step, max_size, .. } if step <= 0 || max_size <= 0 => {
                bad("step and max size must be positive")
            }
            WindowAssigner::Cumulate { step, max_size, .. } if max_size % step != 0 => {
                bad("max size must be an integral multiple of step")
            }
            WindowAssigner::Session { gap } if gap <= 0 => bad("gap must be positive"),
            ok => Ok(ok),
        }
    }

    /// Sets the offset (TUMBLE/HOP/CUMULATE's optional `offset` argument).
    pub fn with_offset(self, offset_ms: i64) -> WindowAssigner {
        match self {
            WindowAssigner::Tumble { size, .. } => WindowAssigner::Tumble {
                size,
                offset: offset_ms,
            },
            WindowAssigner::Hop { slide, size, .. } => WindowAssigner::Hop {
                slide,
                size,
                offset: offset_ms,
            },
            WindowAssigner::Cumulate { step, max_size, .. } => WindowAssigner::Cumulate {
                step,
                max_size,
                offset: offset_ms,
            },
            s @ WindowAssigner::Session { .. } => s,
        }
    }

    /// Appends the windows `(start, end)` that contain `ts`, latest end first for HOP,
    /// shortest first for CUMULATE. SESSION assigns `[ts, ts + gap)` before merging.
    pub fn assign(&self, ts: Timestamp, out: &mut Vec<(Timestamp, Timestamp)>) {
        match *self {
            WindowAssigner::Tumble { size, offset } => {
                let start = window_start(ts, offset, size);
                out.push((start, start + size));
            }
            WindowAssigner::Hop {
                slide,
                size,
                offset,
            } => {
                let mut start = window_start(ts, offset, slide);
                while start > ts - size {
                    out.push((start, start + size));
                    start -= slide;
                }
            }
            WindowAssigner::Cumulate {
                step,
                max_size,
                offset,
            } => {
                let start = window_start(ts, offset, max_size);
                let mut end = start + step;
                while end <= start + max_size {
                    if end > ts {
                        out.push((start, end));
                    }
                    end += step;
                }
            }
            WindowAssigner::Session { gap } => out.push((ts, ts + gap)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(a: WindowAssigner, ts: i64) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        a.assign(ts, &mut v);
        v
    }

    #[test]
    fn assigns_like_flink() {
        let t = WindowAssigner::tumble(10_000).unwrap();
        assert_eq!(windows(t, 0), vec![(0, 10_000)]);
        assert_eq!(windows(t, 9_999), vec![(0, 10_000)]);
        assert_eq!(windows(t, -1), vec![(-10_000, 0)]);
        assert_eq!(windows(t.with_offset(3_000), 2_000), vec![(-7_000, 3_000)]);
        let h = WindowAssigner::hop(2_000, 10_000).unwrap();
        assert_eq!(
            windows(h, 4_500),
            vec![
                (4_000, 14_000),
                (2_000, 12_000),
                (0, 10_000),
                (-2_000, 8_000),
                (-4_000, 6_000)
            ]
        );
        let c = WindowAssigner::cumulate(1_000, 3_000).unwrap();
        assert_eq!(windows(c, 4_500), vec![(3_000, 5_000), (3_000, 6_000)]);
        assert_eq!(
            windows(c, 3_000),
            vec![(3_000, 4_000), (3_000, 5_000), (3_000, 6_000)]
        );
        assert_eq!(
            windows(WindowAssigner::session(5).unwrap(), 7),
            vec![(7, 12)]
        );
        assert!(WindowAssigner::hop(3_000, 10_000).is_err());
        assert!(WindowAssigner::tumble(0).is_err());
        assert!(WindowAssigner::cumulate(2, 5).is_err());
    }
}
