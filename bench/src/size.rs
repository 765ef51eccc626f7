//! Object sizes: a fixed size, a log-uniform range, or a weighted list, parsed from
//! `--size` (`4KiB`, `1KiB..1MiB`, `4KiB:90,1MiB:10`). An object's size is a function of
//! its key, so a GET knows what to expect and an overwrite keeps the size.

use std::str::FromStr;

use crate::constants::OBJECT_BYTES_MAX;

/// Why a size argument was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SizeError {
    /// Not a number with an optional unit (B, KiB, MiB, GiB, KB, MB, GB).
    #[error("{0:?} is not a size (examples: 4096, 4KiB, 64MiB, 1GB)")]
    Syntax(String),
    /// Over `OBJECT_BYTES_MAX`.
    #[error("{0} bytes is over the object size limit of {OBJECT_BYTES_MAX} bytes")]
    TooLarge(u64),
    /// A range whose low end is above its high end, or starts at 0.
    #[error("range {0}..{1} is empty or starts at 0 (a log-uniform range needs 1 <= min <= max)")]
    BadRange(u64, u64),
    /// A weighted list whose weights are all zero.
    #[error("the weights of {0:?} add up to 0")]
    NoWeight(String),
}

/// How object sizes are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum SizeSpec {
    /// Every object has this size.
    Fixed(u64),
    /// Log-uniform between the bounds (inclusive): as many objects of 1–2 KiB as of 1–2 MiB.
    LogUniform { min: u64, max: u64 },
    /// Sizes with weights.
    Weighted(Vec<(u64, u32)>),
}

/// Parses `4096`, `4KiB`, `64MiB`, `1GB`, ...
pub fn parse_bytes(text: &str) -> Result<u64, SizeError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| SizeError::Syntax(text.into()))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(SizeError::Syntax(text.into())),
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| SizeError::Syntax(text.into()))?;
    match bytes > OBJECT_BYTES_MAX {
        true => Err(SizeError::TooLarge(bytes)),
        false => Ok(bytes),
    }
}

impl FromStr for SizeSpec {
    type Err = SizeError;

    fn from_str(text: &str) -> Result<SizeSpec, SizeError> {
        if let Some((lo, hi)) = text.split_once("..") {
            let (min, max) = (parse_bytes(lo)?, parse_bytes(hi)?);
            if min == 0 || min > max {
                return Err(SizeError::BadRange(min, max));
            }
            return Ok(SizeSpec::LogUniform { min, max });
        }
        if text.contains(':') {
            let mut list = Vec::new();
            for item in text.split(',') {
                let (size, weight) = item
                    .split_once(':')
                    .ok_or_else(|| SizeError::Syntax(item.into()))?;
                let weight: u32 = weight
                    .trim()
                    .parse()
                    .map_err(|_| SizeError::Syntax(item.into()))?;
                list.push((parse_bytes(size)?, weight));
            }
            if list.iter().all(|&(_, w)| w == 0) {
                return Err(SizeError::NoWeight(text.into()));
            }
            return Ok(SizeSpec::Weighted(list));
        }
        Ok(SizeSpec::Fixed(parse_bytes(text)?))
    }
}

impl SizeSpec {
    /// The size of the object whose key hashes to `hash`.
    pub fn size_for(&self, hash: u64) -> u64 {
        // The low bits pick the content start; mix so the size is independent of it.
        let u = (hash.rotate_left(29).wrapping_mul(0xff51_afd7_ed55_8ccd) >> 11) as f64
            / (1u64 << 53) as f64;
        match self {
            SizeSpec::Fixed(n) => *n,
            SizeSpec::LogUniform { min, max } => {
                let (lo, hi) = ((*min as f64).ln(), (*max as f64 + 1.0).ln());
                ((lo + u * (hi - lo)).exp() as u64).clamp(*min, *max)
            }
            SizeSpec::Weighted(list) => {
                let total: u64 = list.iter().map(|&(_, w)| u64::from(w)).sum();
                let mut pick = (u * total as f64) as u64;
                for &(size, w) in list {
                    if pick < u64::from(w) {
                        return size;
                    }
                    pick -= u64::from(w);
                }
                list.iter()
                    .rev()
                    .find(|&&(_, w)| w > 0)
                    .map_or(0, |&(s, _)| s)
            }
        }
    }

    /// The largest size this spec can produce.
    pub fn max_bytes(&self) -> u64 {
        match self {
            SizeSpec::Fixed(n) => *n,
            SizeSpec::LogUniform { max, .. } => *max,
            SizeSpec::Weighted(list) => list.iter().map(|&(s, _)| s).max().unwrap_or(0),
        }
    }
}

impl std::fmt::Display for SizeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SizeSpec::Fixed(n) => write!(f, "{}", human_bytes(*n)),
            SizeSpec::LogUniform { min, max } => {
                write!(f, "{}..{}", human_bytes(*min), human_bytes(*max))
            }
            SizeSpec::Weighted(list) => {
                let items: Vec<String> = list
                    .iter()
                    .map(|&(s, w)| format!("{}:{w}", human_bytes(s)))
                    .collect();
                write!(f, "{}", items.join(","))
            }
        }
    }
}

/// `4096` → `4KiB`, `1536` → `1536B`: exact binary units when they divide.
pub fn human_bytes(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n > 0 && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_refuses_bad_ones() {
        assert_eq!(parse_bytes("4KiB"), Ok(4096));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1MB"), Ok(1_000_000));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert!(matches!(parse_bytes("4XB"), Err(SizeError::Syntax(_))));
        assert!(matches!(parse_bytes("6GiB"), Err(SizeError::TooLarge(_))));
        assert!(matches!(
            "2MiB..1MiB".parse::<SizeSpec>(),
            Err(SizeError::BadRange(..))
        ));
        assert!(matches!(
            "1KiB:0,2KiB:0".parse::<SizeSpec>(),
            Err(SizeError::NoWeight(_))
        ));
    }

    #[test]
    fn distributions_stay_in_bounds_and_follow_weights() {
        let range: SizeSpec = "1KiB..1MiB".parse().unwrap();
        let sizes: Vec<u64> = (0..10_000u64)
            .map(|i| range.size_for(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        assert!(sizes.iter().all(|&s| (1024..=1 << 20).contains(&s)));
        // Log-uniform: about half the objects are under the geometric mean (32 KiB).
        let small = sizes.iter().filter(|&&s| s < 32 << 10).count();
        assert!((4000..6000).contains(&small), "{small}");
        let weighted: SizeSpec = "4KiB:90,1MiB:10".parse().unwrap();
        let big = (0..10_000u64)
            .map(|i| weighted.size_for(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .filter(|&s| s == 1 << 20)
            .count();
        assert!((700..1300).contains(&big), "{big}");
        assert_eq!(weighted.to_string(), "4KiB:90,1MiB:10");
        assert_eq!(weighted.max_bytes(), 1 << 20);
    }
}
