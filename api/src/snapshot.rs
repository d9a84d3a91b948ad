//! The file format of a subtask's checkpoint snapshot, shared by the workers that write
//! and restore it and the master that browses it: the magic `EDDYSNP1`, a section
//! count, then sections `(kind u8, index u32, length u64, bytes)` (little-endian).
//! Pure functions without dependencies (wasm-safe).

/// Magic bytes at the start of every snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"EDDYSNP1";
/// Section kind of a source reader's position.
pub const SECTION_POSITION: u8 = 0;
/// Section kind of an operator's state (`index`: its place in the chain).
pub const SECTION_OPERATOR: u8 = 1;
/// The magic of an operator section holding a RocksDB checkpoint's handle (its files
/// under the job's checkpoint directory) instead of the canonical keyed snapshot.
pub const ROCKSDB_CHECKPOINT_MAGIC: &[u8; 8] = b"EDDYRKS1";

/// A subtask's snapshot as bytes: the magic, then sections `(kind, index, length,
/// bytes)` — kind 0 the source position, kind 1 an operator's state (`index` its place
/// in the chain). Empty when there is nothing to store.
pub fn encode_snapshot(position: Option<Vec<u8>>, operators: Vec<Option<Vec<u8>>>) -> Vec<u8> {
    let sections: Vec<(u8, u32, Vec<u8>)> = position
        .map(|p| (SECTION_POSITION, 0u32, p))
        .into_iter()
        .chain(
            operators
                .into_iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|s| (SECTION_OPERATOR, i as u32, s))),
        )
        .collect();
    encode_sections(&sections)
}

/// Encodes sections as [`decode_snapshot`] returns them (empty when there are none).
pub fn encode_sections(sections: &[(u8, u32, Vec<u8>)]) -> Vec<u8> {
    if sections.is_empty() {
        return Vec::new();
    }
    let mut out = SNAPSHOT_MAGIC.to_vec();
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (kind, index, bytes) in sections {
        out.push(*kind);
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// The sections of an encoded snapshot: (kind, index, bytes).
pub fn decode_snapshot(bytes: &[u8]) -> Result<Vec<(u8, u32, Vec<u8>)>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let rest = bytes
        .strip_prefix(SNAPSHOT_MAGIC.as_slice())
        .ok_or("not an Eddy snapshot")?;
    let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, String> {
        if rest.len() < n {
            return Err("snapshot truncated".into());
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head.to_vec())
    };
    let mut rest = rest;
    let count = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "count")?);
    let mut sections = Vec::new();
    for _ in 0..count {
        let kind = take(&mut rest, 1)?[0];
        let index = u32::from_le_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "index")?);
        let len = u64::from_le_bytes(take(&mut rest, 8)?.try_into().map_err(|_| "length")?);
        let len = usize::try_from(len).map_err(|_| "section too large")?;
        sections.push((kind, index, take(&mut rest, len)?));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip_and_garbage_is_an_error() {
        let bytes = encode_snapshot(Some(b"pos".to_vec()), vec![None, Some(b"op1".to_vec())]);
        assert_eq!(
            decode_snapshot(&bytes),
            Ok(vec![
                (SECTION_POSITION, 0, b"pos".to_vec()),
                (SECTION_OPERATOR, 1, b"op1".to_vec())
            ])
        );
        assert_eq!(encode_snapshot(None, vec![None]), Vec::<u8>::new());
        let sections = decode_snapshot(&bytes).unwrap();
        assert_eq!(encode_sections(&sections), bytes);
        assert!(decode_snapshot(b"garbage!").is_err());
        assert!(decode_snapshot(&bytes[..bytes.len() - 1]).is_err());
    }
}
