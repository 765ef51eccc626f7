//! `rs://BUCKET[/KEY]` addresses.

use anyhow::{bail, Result};

#[derive(Debug, PartialEq, Eq)]
pub struct RsUri {
    pub bucket: String,
    pub key: String,
}

pub fn is_remote(s: &str) -> bool {
    s.starts_with("rs://")
}

pub fn parse(s: &str) -> Result<RsUri> {
    let Some(rest) = s.strip_prefix("rs://") else {
        bail!("{s:?} is not a ringstore address (rs://BUCKET[/KEY])");
    };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        bail!("{s:?} names no bucket");
    }
    Ok(RsUri {
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}

/// Parses a `--range` value: `FIRST-LAST`, `FIRST-` or `-SUFFIX`.
pub fn parse_range(s: &str) -> Result<ringstore_client::RangeSpec> {
    use ringstore_client::RangeSpec;
    let bad = || anyhow::anyhow!("invalid range {s:?}: use FIRST-LAST, FIRST- or -SUFFIX");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    Ok(match (a.is_empty(), b.is_empty()) {
        (true, false) => RangeSpec::Suffix(b.parse().map_err(|_| bad())?),
        (false, true) => RangeSpec::From(a.parse().map_err(|_| bad())?),
        (false, false) => {
            let (a, b) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b {
                return Err(bad());
            }
            RangeSpec::FromTo(a, b)
        }
        (true, true) => return Err(bad()),
    })
}

/// Parses sizes like `1GiB`, `256MiB`, `64M`, `4096`.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {s:?}"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        "t" | "tib" | "tb" => 1 << 40,
        _ => bail!("invalid size unit in {s:?}"),
    };
    n.checked_mul(mult)
        .ok_or_else(|| anyhow::anyhow!("size {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_ranges_sizes() {
        assert_eq!(
            parse("rs://b/k/x").unwrap(),
            RsUri {
                bucket: "b".into(),
                key: "k/x".into()
            }
        );
        assert_eq!(
            parse("rs://b").unwrap(),
            RsUri {
                bucket: "b".into(),
                key: "".into()
            }
        );
        assert!(parse("s3://b").is_err() && parse("rs://").is_err());
        assert!(
            parse_range("5-1").is_err() && parse_range("-").is_err() && parse_range("x").is_err()
        );
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert!(parse_size("12Q").is_err());
    }
}
