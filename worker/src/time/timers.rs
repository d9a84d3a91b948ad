//! [`InternalTimerService`]: Flink's `InternalTimerServiceImpl` on the heap — event-time
//! and processing-time timers scoped to (key, namespace), stored by key group (so a
//! snapshot or rescale takes whole key groups), deduplicated (a key, namespace and time
//! is registered once) and deletable. Due timers come out in timestamp order. Every
//! timer is charged to the slot's managed memory, which bounds the queues.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::key_groups::KeyGroupRange;
use crate::runtime::error::Result;
use crate::runtime::message::{MIN_WATERMARK, Timestamp};
use crate::state::keyed::{KeyBytes, Namespace};
use crate::state::memory::MemoryBudget;
use crate::state::table::{StateSize, StateTable};

/// Managed-memory overhead of one timer in the firing-order index (B-tree node share).
const ORDER_ENTRY_OVERHEAD: usize = 16;

/// A timer (Flink's `TimerHeapInternalTimer`). Ordered by timestamp first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timer<N> {
    pub timestamp: Timestamp,
    pub key_group: u32,
    pub key: KeyBytes,
    pub namespace: N,
}

impl<N: StateSize> StateSize for Timer<N> {
    fn state_size(&self) -> usize {
        std::mem::size_of::<Timestamp>()
            + std::mem::size_of::<u32>()
            + self.key.state_size()
            + self.namespace.state_size()
    }
}

/// One time domain's timers: a per-key-group set (dedup, snapshots) and a firing order.
#[derive(Debug)]
struct TimerQueue<N: Namespace + Ord> {
    by_key_group: StateTable<Timer<N>, ()>,
    order: BTreeSet<Timer<N>>,
    memory: Arc<MemoryBudget>,
    /// Bytes reserved for `order`.
    order_bytes: usize,
}

impl<N: Namespace + Ord> TimerQueue<N> {
    fn new(range: KeyGroupRange, memory: Arc<MemoryBudget>) -> Self {
        TimerQueue {
            by_key_group: StateTable::new(range, memory.clone()),
            order: BTreeSet::new(),
            memory,
            order_bytes: 0,
        }
    }

    /// Adds `timer` unless already there; `Ok(false)` for a duplicate.
    fn add(&mut self, timer: Timer<N>) -> Result<bool> {
        let group = timer.key_group;
        if self.by_key_group.get(group, &timer).is_some() {
            return Ok(false);
        }
        self.by_key_group.insert(group, timer.clone(), ())?;
        let bytes = timer.state_size() + ORDER_ENTRY_OVERHEAD;
        if let Err(e) = self.memory.reserve(bytes) {
            self.by_key_group.remove(group, &timer);
            return Err(e);
        }
        self.order_bytes += bytes;
        self.order.insert(timer);
        Ok(true)
    }

    fn remove(&mut self, timer: &Timer<N>) -> bool {
        if self.by_key_group.remove(timer.key_group, timer).is_none() {
            return false;
        }
        if self.order.remove(timer) {
            let bytes = timer.state_size() + ORDER_ENTRY_OVERHEAD;
            self.memory.release(bytes);
            self.order_bytes -= bytes;
        }
        true
    }

    fn peek(&self) -> Option<Timestamp> {
        self.order.first().map(|t| t.timestamp)
    }

    /// The earliest timer if it is due at `time`.
    fn poll(&mut self, time: Timestamp) -> Option<Timer<N>> {
        if self.peek()? > time {
            return None;
        }
        let timer = self.order.pop_first()?;
        let bytes = timer.state_size() + ORDER_ENTRY_OVERHEAD;
        self.memory.release(bytes);
        self.order_bytes -= bytes;
        self.by_key_group.remove(timer.key_group, &timer);
        Some(timer)
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    fn size_bytes(&self) -> usize {
        self.by_key_group.size_bytes() + self.order_bytes
    }
}

impl<N: Namespace + Ord> Drop for TimerQueue<N> {
    fn drop(&mut self) {
        self.memory.release(self.order_bytes);
    }
}

/// The event-time and processing-time timers of one keyed operator subtask.
#[derive(Debug)]
pub struct InternalTimerService<N: Namespace + Ord> {
    event_time: TimerQueue<N>,
    processing_time: TimerQueue<N>,
    current_watermark: Timestamp,
}

impl<N: Namespace + Ord> InternalTimerService<N> {
    pub fn new(range: KeyGroupRange, memory: Arc<MemoryBudget>) -> Self {
        InternalTimerService {
            event_time: TimerQueue::new(range, memory.clone()),
            processing_time: TimerQueue::new(range, memory),
            current_watermark: MIN_WATERMARK,
        }
    }

    fn timer(key: &KeyBytes, key_group: u32, namespace: N, time: Timestamp) -> Timer<N> {
        Timer {
            timestamp: time,
            key_group,
            key: key.clone(),
            namespace,
        }
    }

    /// Registers an event-time timer; `Ok(false)` if this key, namespace and time
    /// already has one. A timer at or before the current watermark fires on the
    /// next advance. Key groups outside the range are refused.
    pub fn register_event_time_timer(
        &mut self,
        key: &KeyBytes,
        key_group: u32,
        namespace: N,
        time: Timestamp,
    ) -> Result<bool> {
        self.event_time
            .add(Self::timer(key, key_group, namespace, time))
    }

    /// Deletes an event-time timer; false if there was none.
    pub fn delete_event_time_timer(
        &mut self,
        key: &KeyBytes,
        key_group: u32,
        namespace: N,
        time: Timestamp,
    ) -> bool {
        self.event_time
            .remove(&Self::timer(key, key_group, namespace, time))
    }

    pub fn register_processing_time_timer(
        &mut self,
        key: &KeyBytes,
        key_group: u32,
        namespace: N,
        time: Timestamp,
    ) -> Result<bool> {
        self.processing_time
            .add(Self::timer(key, key_group, namespace, time))
    }

    pub fn delete_processing_time_timer(
        &mut self,
        key: &KeyBytes,
        key_group: u32,
        namespace: N,
        time: Timestamp,
    ) -> bool {
        self.processing_time
            .remove(&Self::timer(key, key_group, namespace, time))
    }

    /// The last watermark passed to [`Self::advance_watermark`].
    pub fn current_watermark(&self) -> Timestamp {
        self.current_watermark
    }

    /// The watermark advanced: every event-time timer at or before it, in timestamp
    /// order. (Timers registered while handling these fire on the next advance; use
    /// [`Self::poll_event_time_timer`] to fire them in the same one, as Flink does.)
    pub fn advance_watermark(&mut self, watermark: Timestamp) -> Vec<Timer<N>> {
        self.current_watermark = self.current_watermark.max(watermark);
        std::iter::from_fn(|| self.event_time.poll(watermark)).collect()
    }

    /// The next event-time timer due at `watermark`, one at a time.
    pub fn poll_event_time_timer(&mut self, watermark: Timestamp) -> Option<Timer<N>> {
        self.current_watermark = self.current_watermark.max(watermark);
        self.event_time.poll(watermark)
    }

    pub fn next_event_time(&self) -> Option<Timestamp> {
        self.event_time.peek()
    }

    /// The earliest processing time at which a timer is due.
    pub fn next_processing_time(&self) -> Option<Timestamp> {
        self.processing_time.peek()
    }

    /// Processing time reached `now`: every processing-time timer at or before it,
    /// in timestamp order.
    pub fn advance_processing_time(&mut self, now: Timestamp) -> Vec<Timer<N>> {
        std::iter::from_fn(|| self.processing_time.poll(now)).collect()
    }

    /// The next processing-time timer due at `now`, one at a time.
    pub fn poll_processing_time_timer(&mut self, now: Timestamp) -> Option<Timer<N>> {
        self.processing_time.poll(now)
    }

    pub fn num_event_time_timers(&self) -> usize {
        self.event_time.len()
    }

    pub fn num_processing_time_timers(&self) -> usize {
        self.processing_time.len()
    }

    /// Bytes all timers charge to managed memory.
    pub fn size_bytes(&self) -> usize {
        self.event_time.size_bytes() + self.processing_time.size_bytes()
    }

    /// Event-time timers of one key group (snapshots).
    pub fn event_time_timers_in_key_group(
        &self,
        key_group: u32,
    ) -> impl Iterator<Item = &Timer<N>> {
        self.event_time
            .by_key_group
            .iter_group(key_group)
            .map(|(t, _)| t)
    }

    /// Processing-time timers of one key group (snapshots).
    pub fn processing_time_timers_in_key_group(
        &self,
        key_group: u32,
    ) -> impl Iterator<Item = &Timer<N>> {
        self.processing_time
            .by_key_group
            .iter_group(key_group)
            .map(|(t, _)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::error::RuntimeError;

    fn key(s: &str) -> KeyBytes {
        Arc::from(s.as_bytes())
    }

    fn service(budget: usize) -> (InternalTimerService<u32>, Arc<MemoryBudget>) {
        let memory = MemoryBudget::new(budget);
        let range = KeyGroupRange { start: 0, end: 7 };
        (InternalTimerService::new(range, memory.clone()), memory)
    }

    fn fired(timers: &[Timer<u32>]) -> Vec<(Timestamp, &[u8], u32)> {
        timers
            .iter()
            .map(|t| (t.timestamp, t.key.as_ref(), t.namespace))
            .collect()
    }

    #[test]
    fn event_time_timers_fire_in_timestamp_order_up_to_the_watermark() {
        let (mut s, memory) = service(1 << 20);
        let (a, b) = (key("a"), key("b"));
        for (k, g, t) in [(&a, 1, 30), (&b, 2, 10), (&a, 1, 20), (&b, 2, 40)] {
            assert!(s.register_event_time_timer(k, g, 0, t).unwrap());
        }
        assert_eq!(s.next_event_time(), Some(10));
        assert_eq!(s.advance_watermark(5), vec![]);
        let due = s.advance_watermark(30);
        assert_eq!(
            fired(&due),
            vec![(10, &b"b"[..], 0), (20, &b"a"[..], 0), (30, &b"a"[..], 0)]
        );
        assert_eq!(due[0].key_group, 2);
        assert_eq!(s.current_watermark(), 30);
        assert_eq!(s.num_event_time_timers(), 1);
        // A timer registered behind the watermark fires on the next advance.
        s.register_event_time_timer(&a, 1, 0, 15).unwrap();
        assert_eq!(s.poll_event_time_timer(31).map(|t| t.timestamp), Some(15));
        assert_eq!(s.poll_event_time_timer(31), None);
        let last = s.advance_watermark(Timestamp::MAX);
        assert_eq!(fired(&last), vec![(40, &b"b"[..], 0)]);
        assert_eq!(memory.used(), 0, "fired timers return their memory");
    }

    #[test]
    fn timers_are_deduplicated_and_scoped_to_key_and_namespace() {
        let (mut s, memory) = service(1 << 20);
        let (a, b) = (key("a"), key("b"));
        assert!(s.register_event_time_timer(&a, 1, 7, 100).unwrap());
        let one = memory.used();
        assert!(
            !s.register_event_time_timer(&a, 1, 7, 100).unwrap(),
            "duplicate"
        );
        assert_eq!(memory.used(), one, "a duplicate charges nothing");
        assert!(
            s.register_event_time_timer(&a, 1, 8, 100).unwrap(),
            "other namespace"
        );
        assert!(
            s.register_event_time_timer(&b, 3, 7, 100).unwrap(),
            "other key"
        );
        assert_eq!(s.event_time_timers_in_key_group(1).count(), 2);
        assert_eq!(s.event_time_timers_in_key_group(3).count(), 1);
        // Deleting one key's timer leaves the others.
        assert!(s.delete_event_time_timer(&a, 1, 7, 100));
        assert!(!s.delete_event_time_timer(&a, 1, 7, 100));
        assert!(!s.delete_event_time_timer(&a, 1, 7, 99));
        let timers = s.advance_watermark(100);
        let mut due = fired(&timers);
        due.sort();
        assert_eq!(due, vec![(100, &b"a"[..], 8), (100, &b"b"[..], 7)]);
        assert_eq!(memory.used(), 0);
        assert_eq!(s.size_bytes(), 0);
    }

    #[test]
    fn processing_time_timers_are_separate_from_event_time() {
        let (mut s, _) = service(1 << 20);
        let a = key("a");
        assert_eq!(s.next_processing_time(), None);
        s.register_processing_time_timer(&a, 0, 1, 2000).unwrap();
        s.register_processing_time_timer(&a, 0, 1, 1000).unwrap();
        s.register_event_time_timer(&a, 0, 1, 500).unwrap();
        assert_eq!(s.next_processing_time(), Some(1000));
        assert_eq!(s.advance_processing_time(999), vec![]);
        let due = s.advance_processing_time(1500);
        assert_eq!(fired(&due), vec![(1000, &b"a"[..], 1)]);
        assert_eq!(s.next_processing_time(), Some(2000));
        assert!(s.delete_processing_time_timer(&a, 0, 1, 2000));
        assert_eq!(s.next_processing_time(), None);
        assert_eq!(s.num_event_time_timers(), 1, "event-time timers untouched");
        assert_eq!(s.poll_processing_time_timer(i64::MAX), None);
    }

    #[test]
    fn refuses_foreign_key_groups_and_timers_beyond_the_budget() {
        let (mut s, memory) = service(200);
        let a = key("a");
        assert!(
            s.register_event_time_timer(&a, 8, 0, 1).is_err(),
            "outside 0..=7"
        );
        s.register_event_time_timer(&a, 0, 0, 1).unwrap();
        let used = memory.used();
        let mut refused = None;
        for t in 2..100 {
            if let Err(e) = s.register_event_time_timer(&a, 0, 0, t) {
                refused = Some(e);
                break;
            }
        }
        assert!(matches!(refused, Some(RuntimeError::MemoryExceeded { .. })));
        assert!(memory.used() >= used && memory.used() <= 200);
        assert_eq!(memory.used(), s.size_bytes());
        let n = s.num_event_time_timers();
        assert_eq!(s.advance_watermark(1000).len(), n);
        assert_eq!(memory.used(), 0);
        s.register_processing_time_timer(&a, 0, 0, 1).unwrap();
        drop(s);
        assert_eq!(memory.used(), 0, "dropping the service returns its memory");
    }
}
