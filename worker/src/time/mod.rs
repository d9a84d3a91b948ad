//! The three notions of time: processing time (clocks), event time (watermarks), and
//! ingestion time (stamped at the source, then treated as event time).

pub mod clock;
pub mod timers;
pub mod valve;
pub mod watermark;
