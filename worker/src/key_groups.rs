//! Key groups, as Flink's `KeyGroupRangeAssignment` defines them: a key hashes to one
//! of `max_parallelism` key groups; subtask `i` of an operator with parallelism `p`
//! owns a contiguous range of key groups. Keyed state is stored and snapshotted by key
//! group, so rescaling moves whole groups between subtasks.

/// Default number of key groups (Eddy's default `max_parallelism`).
pub const DEFAULT_MAX_PARALLELISM: u32 = 128;
/// Upper bound of `max_parallelism` (Flink's `UPPER_BOUND_MAX_PARALLELISM`).
pub const MAX_MAX_PARALLELISM: u32 = 1 << 15;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyGroupError {
    #[error("max parallelism must be between 1 and {MAX_MAX_PARALLELISM}, not {0}")]
    MaxParallelism(u32),
    #[error(
        "parallelism must be between 1 and the max parallelism {max_parallelism}, not {parallelism}"
    )]
    Parallelism {
        parallelism: u32,
        max_parallelism: u32,
    },
    #[error("subtask index {index} out of range for parallelism {parallelism}")]
    Index { index: u32, parallelism: u32 },
}

/// An inclusive range of key groups owned by one subtask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGroupRange {
    pub start: u32,
    pub end: u32,
}

impl KeyGroupRange {
    pub fn contains(&self, key_group: u32) -> bool {
        (self.start..=self.end).contains(&key_group)
    }

    /// Number of key groups in the range (never zero: `start <= end`).
    pub fn size(&self) -> u32 {
        self.end + 1 - self.start
    }
}

/// Checks a (parallelism, max parallelism) pair.
pub fn check(parallelism: u32, max_parallelism: u32) -> Result<(), KeyGroupError> {
    if max_parallelism == 0 || max_parallelism > MAX_MAX_PARALLELISM {
        return Err(KeyGroupError::MaxParallelism(max_parallelism));
    }
    if parallelism == 0 || parallelism > max_parallelism {
        return Err(KeyGroupError::Parallelism {
            parallelism,
            max_parallelism,
        });
    }
    Ok(())
}

/// The key group of a key's hash. The hash is scrambled (murmur3's 64-bit finaliser)
/// first, as Flink does with `MathUtils.murmurHash`, so weak hashes still spread.
pub fn key_group_for_hash(hash: u64, max_parallelism: u32) -> u32 {
    debug_assert!(max_parallelism > 0 && max_parallelism <= MAX_MAX_PARALLELISM);
    let mut h = hash;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h % u64::from(max_parallelism)) as u32
}

/// The subtask that owns `key_group`.
pub fn subtask_for_key_group(key_group: u32, parallelism: u32, max_parallelism: u32) -> u32 {
    debug_assert!(key_group < max_parallelism);
    (u64::from(key_group) * u64::from(parallelism) / u64::from(max_parallelism)) as u32
}

/// The key groups subtask `index` owns.
pub fn range_for_subtask(
    index: u32,
    parallelism: u32,
    max_parallelism: u32,
) -> Result<KeyGroupRange, KeyGroupError> {
    check(parallelism, max_parallelism)?;
    if index >= parallelism {
        return Err(KeyGroupError::Index { index, parallelism });
    }
    let (i, p, m) = (
        u64::from(index),
        u64::from(parallelism),
        u64::from(max_parallelism),
    );
    let start = ((i * m + p - 1) / p) as u32;
    let end = (((i + 1) * m - 1) / p) as u32;
    Ok(KeyGroupRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_partition_the_key_groups_and_agree_with_the_owner() {
        for max in [1u32, 7, 128, 1000] {
            for p in 1..=max.min(17) {
                let mut next = 0;
                for i in 0..p {
                    let r = range_for_subtask(i, p, max).expect("valid");
                    assert_eq!(r.start, next, "contiguous (max {max}, p {p}, i {i})");
                    for kg in r.start..=r.end {
                        assert_eq!(subtask_for_key_group(kg, p, max), i);
                    }
                    next = r.end + 1;
                }
                assert_eq!(next, max, "all key groups owned");
            }
        }
    }

    #[test]
    fn ranges_are_balanced() {
        let lens: Vec<u32> = (0..3)
            .map(|i| range_for_subtask(i, 3, 128).expect("valid").size())
            .collect();
        assert_eq!(lens.iter().sum::<u32>(), 128);
        assert!(
            lens.iter().max().unwrap_or(&0) - lens.iter().min().unwrap_or(&0) <= 1,
            "{lens:?}"
        );
    }

    #[test]
    fn hashes_spread_over_key_groups() {
        let mut counts = vec![0u32; 128];
        for k in 0..128_000u64 {
            counts[key_group_for_hash(k, 128) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }

    #[test]
    fn invalid_settings_are_errors() {
        assert_eq!(check(1, 0), Err(KeyGroupError::MaxParallelism(0)));
        assert_eq!(
            check(1, MAX_MAX_PARALLELISM + 1),
            Err(KeyGroupError::MaxParallelism(MAX_MAX_PARALLELISM + 1))
        );
        assert_eq!(
            check(129, 128),
            Err(KeyGroupError::Parallelism {
                parallelism: 129,
                max_parallelism: 128
            })
        );
        assert_eq!(
            range_for_subtask(2, 2, 128),
            Err(KeyGroupError::Index {
                index: 2,
                parallelism: 2
            })
        );
    }
}
