//! The OVER aggregate's RocksDB state against its snapshots: a checkpoint is the
//! instance's incremental RocksDB checkpoint; a savepoint is the canonical snapshot
//! (`super::snapshot`'s format), written one scan chunk at a time; a canonical
//! snapshot (of either backend) is loaded batch by batch into RocksDB, and the timers
//! of the waiting rows are rebuilt from the keys of an adopted or imported database.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, UInt8Array, UInt32Array, new_null_array};
use arrow::compute::{interleave, take};
use rocksdb::WriteBatch;

use super::rocks::{
    AGGREGATES, FRAME_ROW, HEADER, Header, RocksOver, StateKey, WAITING_ROW, aggregates_key,
    frame_key, parse, waiting_key,
};
use super::snapshot::{Entries, entry_fields, namespace};
use crate::operators::aggregate::AggregateSet;
use crate::operators::keyed_rows::{KeyedRowsWriter, OwnRows, column, invalid};
use crate::operators::keyed_snapshot::key_texts;
use crate::operators::keys::KeyEncoder;
use crate::runtime::error::Result;
use crate::runtime::message::CheckpointBarrier;
use crate::state::rocksdb::instance::{SCAN_BATCH, db_key};

impl RocksOver {
    /// A checkpoint's local RocksDB checkpoint handle, or a savepoint's canonical
    /// snapshot (keys rendered by `keys`).
    pub(super) fn snapshot(
        &mut self,
        aggs: &mut AggregateSet,
        barrier: &CheckpointBarrier,
        keys: &KeyEncoder,
    ) -> Result<Vec<u8>> {
        if !barrier.savepoint {
            return self
                .snapshots
                .snapshot(&self.db, barrier.checkpoint_id, self.range)?
                .encode();
        }
        let fields = entry_fields(aggs, &self.input_types, &self.input)?;
        let mut writer = KeyedRowsWriter::new(Vec::new(), fields)?;
        let this = &*self;
        this.db.scan(this.range, |chunk| {
            this.write_chunk(&mut writer, aggs, keys, chunk)
        })?;
        writer.finish()
    }

    /// One scan chunk as canonical entries.
    fn write_chunk(
        &self,
        writer: &mut KeyedRowsWriter,
        aggs: &mut AggregateSet,
        keys: &KeyEncoder,
        chunk: &[(u32, Vec<u8>, Vec<u8>)],
    ) -> Result<()> {
        let n = chunk.len();
        let (mut groups, mut key_bytes) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut kinds, mut times) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut accs, mut accs_at) = (Vec::new(), Vec::with_capacity(n));
        let (mut frames, mut frame_picks) = (Vec::new(), Vec::with_capacity(n));
        let (mut rows, mut row_picks) = (Vec::new(), Vec::with_capacity(n));
        for (kg, state_key, value) in chunk {
            groups.push(*kg);
            let (mut acc, mut frame, mut row) = (None, (0, 0), (0, 0));
            match parse(state_key)? {
                StateKey::Aggregates(key) => {
                    let (header, state) = Header::decode(value)?;
                    kinds.push(AGGREGATES);
                    times.push(header.last_ts);
                    acc = Some(accs.len() as u32);
                    accs.push(state);
                    key_bytes.push(key);
                }
                StateKey::Frame(key) => {
                    let (ts, inputs) = value.split_first_chunk::<8>().ok_or_else(|| {
                        invalid("OVER rocksdb state: a frame row without its time")
                    })?;
                    kinds.push(FRAME_ROW);
                    times.push(i64::from_le_bytes(*ts));
                    frame = (1, frames.len());
                    frames.push(inputs);
                    key_bytes.push(key);
                }
                StateKey::Waiting(key, ts, _) => {
                    kinds.push(WAITING_ROW);
                    times.push(ts);
                    row = (1, rows.len());
                    rows.push(value.as_slice());
                    key_bytes.push(key);
                }
            }
            accs_at.push(acc);
            frame_picks.push(frame);
            row_picks.push(row);
        }
        let namespaces: StringArray = kinds.iter().map(|k| Some(namespace(*k))).collect();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt8Array::from(kinds)),
            Arc::new(Int64Array::from(times)),
        ];
        let (slots, _) = self.accs.decode(aggs, &accs)?;
        let state = aggs.state(&slots);
        for &slot in &slots {
            aggs.free(slot);
        }
        let at: UInt32Array = accs_at.into_iter().collect();
        for c in state? {
            columns.push(take(c.as_ref(), &at, None)?);
        }
        if let Some(codec) = &self.frame_codec {
            let parser = codec.parser();
            let decoded = codec.convert_rows(frames.iter().map(|r| parser.parse(r)))?;
            for (c, t) in decoded.iter().zip(self.input_types.iter().flatten()) {
                let null = new_null_array(t, 1);
                columns.push(interleave(&[null.as_ref(), c.as_ref()], &frame_picks)?);
            }
        }
        let parser = self.rows.parser();
        let decoded = self
            .rows
            .convert_rows(rows.iter().map(|r| parser.parse(r)))?;
        for (c, f) in decoded.iter().zip(self.input.fields()) {
            let null = new_null_array(f.data_type(), 1);
            columns.push(interleave(&[null.as_ref(), c.as_ref()], &row_picks)?);
        }
        let described = [
            key_texts(keys, &key_bytes)?,
            Arc::new(namespaces) as ArrayRef,
        ];
        writer.write(&groups, &key_bytes, Vec::new(), described, columns)
    }

    /// Loads a canonical snapshot's entries of the subtask's key groups into RocksDB
    /// (a write batch per snapshot batch); returns how many.
    pub(super) fn load_canonical(
        &mut self,
        aggs: &mut AggregateSet,
        bytes: &[u8],
    ) -> Result<usize> {
        let rows = OwnRows::open(bytes, self.range)?;
        let state_from = rows.entry_columns_start()? + 2;
        let state_width = aggs.state(&[])?.len();
        // Frame rows per key: their seqs are 0.., their count goes into the key's header.
        let mut frames: HashMap<(u32, Vec<u8>), u64> = HashMap::new();
        let mut restored = 0;
        for batch in rows {
            let batch = batch?;
            let entries = Entries::of(&batch)?;
            let (groups, keys, times) = (entries.groups, entries.keys, entries.times);
            let of_kind = |kind: u8| entries.of_kind(kind);
            let mut write = WriteBatch::default();
            let aggregates = of_kind(AGGREGATES);
            let state_columns = entries.state_columns(&aggregates, state_from, state_width)?;
            let slots = aggs.load_state(&state_columns, aggregates.len())?;
            let values = self.accs.encode(aggs, &slots, &[]);
            for &slot in &slots {
                aggs.free(slot);
            }
            for (&r, accs) in aggregates.values().iter().zip(values?) {
                let r = r as usize;
                let header = Header {
                    last_ts: times.value(r),
                    ..Header::default()
                };
                let mut value = Vec::with_capacity(HEADER + accs.len());
                header.encode(&mut value);
                value.extend_from_slice(&accs);
                write.put(
                    db_key(groups.value(r), &aggregates_key(keys.value(r)))?,
                    value,
                );
            }

            let frame_rows = of_kind(FRAME_ROW);
            if !frame_rows.is_empty() {
                let encoded = match &self.frame_codec {
                    Some(codec) => {
                        let inputs = self
                            .input_types
                            .iter()
                            .enumerate()
                            .filter(|(_, t)| t.is_some())
                            .map(|(i, _)| {
                                let c = column(&batch, &format!("frame.{i}"))?;
                                Ok(take(c.as_ref(), &frame_rows, None)?)
                            })
                            .collect::<Result<Vec<_>>>()?;
                        Some(codec.convert_columns(&inputs)?)
                    }
                    None => None,
                };
                for (j, &r) in frame_rows.values().iter().enumerate() {
                    let r = r as usize;
                    let (kg, key) = (groups.value(r), keys.value(r));
                    let seq = frames.entry((kg, key.to_vec())).or_insert(0);
                    let mut value = times.value(r).to_le_bytes().to_vec();
                    if let Some(rows) = &encoded {
                        value.extend_from_slice(rows.row(j).as_ref());
                    }
                    write.put(db_key(kg, &frame_key(key, *seq))?, value);
                    *seq += 1;
                }
            }

            let waiting = of_kind(WAITING_ROW);
            if !waiting.is_empty() {
                let columns = self
                    .input
                    .fields()
                    .iter()
                    .map(|f| {
                        let c = column(&batch, &format!("row.{}", f.name()))?;
                        Ok(take(c.as_ref(), &waiting, None)?)
                    })
                    .collect::<Result<Vec<_>>>()?;
                let rows = self.rows.convert_columns(&columns)?;
                for (j, &r) in waiting.values().iter().enumerate() {
                    let r = r as usize;
                    let (kg, key, ts) = (groups.value(r), keys.value(r), times.value(r));
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    write.put(db_key(kg, &waiting_key(key, ts, seq))?, rows.row(j));
                    self.timers.add(ts, seq, kg, key)?;
                }
            }
            self.db.write(write)?;
            restored += batch.num_rows();
        }
        let counted: Vec<((u32, Vec<u8>), u64)> = frames.into_iter().collect();
        for chunk in counted.chunks(SCAN_BATCH) {
            let db_keys = chunk
                .iter()
                .map(|((kg, key), _)| db_key(*kg, &aggregates_key(key)))
                .collect::<Result<Vec<_>>>()?;
            let mut write = WriteBatch::default();
            for ((k, value), (_, len)) in
                db_keys.iter().zip(self.db.multi_get(&db_keys)?).zip(chunk)
            {
                let value = value
                    .ok_or_else(|| invalid("OVER: a frame row without its key's aggregates"))?;
                let (mut header, accs) = Header::decode(&value)?;
                header.len = *len;
                let mut patched = Vec::with_capacity(value.len());
                header.encode(&mut patched);
                patched.extend_from_slice(accs);
                write.put(k, patched);
            }
            self.db.write(write)?;
        }
        Ok(restored)
    }

    /// Registers a timer for every waiting row in the database (restored from a
    /// checkpoint) and continues the arrival counter after theirs.
    pub(super) fn rebuild_timers(&mut self) -> Result<()> {
        let (db, range) = (&self.db, self.range);
        let (timers, next_seq) = (&mut self.timers, &mut self.next_seq);
        db.scan(range, |chunk| {
            for (kg, state_key, _) in chunk {
                if let StateKey::Waiting(key, ts, seq) = parse(state_key)? {
                    timers.add(ts, seq, *kg, key)?;
                    *next_seq = (*next_seq).max(seq + 1);
                }
            }
            Ok(())
        })
    }

    /// How many entries the database holds (tests).
    #[cfg(test)]
    pub(super) fn entries(&self) -> usize {
        let mut n = 0;
        let counted = self.db.scan(self.range, |chunk| {
            n += chunk.len();
            Ok(())
        });
        counted.map_or(0, |()| n)
    }

    /// How many rows wait for the watermark (tests).
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.timers.len()
    }
}
