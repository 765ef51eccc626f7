//! Operation kinds and workloads: which operations a run issues and in what proportion.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Put,
    Get,
    Stat,
    Delete,
    List,
    Multipart,
    Append,
}

impl OpKind {
    pub const ALL: [OpKind; 7] = [
        OpKind::Put,
        OpKind::Get,
        OpKind::Stat,
        OpKind::Delete,
        OpKind::List,
        OpKind::Multipart,
        OpKind::Append,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Get => "get",
            OpKind::Stat => "stat",
            OpKind::Delete => "delete",
            OpKind::List => "list",
            OpKind::Multipart => "multipart",
            OpKind::Append => "append",
        }
    }

    /// Whether the operation moves object bytes (and so has a MiB/s figure).
    pub fn moves_data(self) -> bool {
        matches!(
            self,
            OpKind::Put | OpKind::Get | OpKind::Multipart | OpKind::Append
        )
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--mix` entry or list that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MixError {
    #[error("unknown operation {0:?} in --mix (put, get, stat, delete)")]
    UnknownOp(String),
    #[error("{0:?} in --mix is not OP=WEIGHT")]
    Syntax(String),
    #[error("the --mix weights add up to 0")]
    NoWeight,
}

/// The proportions of a `mixed` run, as `get=45,stat=30,put=15,delete=10` (warp's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(pub Vec<(OpKind, u32)>);

impl Default for Mix {
    fn default() -> Mix {
        Mix(vec![
            (OpKind::Get, 45),
            (OpKind::Stat, 30),
            (OpKind::Put, 15),
            (OpKind::Delete, 10),
        ])
    }
}

impl FromStr for Mix {
    type Err = MixError;

    fn from_str(text: &str) -> Result<Mix, MixError> {
        let mut list = Vec::new();
        for item in text.split(',') {
            let (op, weight) = item
                .split_once('=')
                .ok_or_else(|| MixError::Syntax(item.into()))?;
            let op = match op.trim() {
                "put" => OpKind::Put,
                "get" => OpKind::Get,
                "stat" => OpKind::Stat,
                "delete" => OpKind::Delete,
                other => return Err(MixError::UnknownOp(other.into())),
            };
            let weight = weight
                .trim()
                .parse()
                .map_err(|_| MixError::Syntax(item.into()))?;
            list.push((op, weight));
        }
        match list.iter().map(|&(_, w)| u64::from(w)).sum::<u64>() {
            0 => Err(MixError::NoWeight),
            _ => Ok(Mix(list)),
        }
    }
}

impl Mix {
    /// The operation for a uniform random draw `r`.
    pub fn pick(&self, r: u64) -> OpKind {
        let total: u64 = self.0.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut x = r % total;
        for &(op, w) in &self.0 {
            if x < u64::from(w) {
                return op;
            }
            x -= u64::from(w);
        }
        unreachable!("the draw is below the total weight")
    }

    pub fn describe(&self) -> String {
        let items: Vec<String> = self.0.iter().map(|(op, w)| format!("{op}={w}")).collect();
        items.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_picks_by_weight() {
        let mix: Mix = "get=3,put=1".parse().unwrap();
        let gets = (0..4000).filter(|&r| mix.pick(r) == OpKind::Get).count();
        assert_eq!(gets, 3000);
        assert_eq!(
            "list=1".parse::<Mix>(),
            Err(MixError::UnknownOp("list".into()))
        );
        assert_eq!("get=0".parse::<Mix>(), Err(MixError::NoWeight));
        assert!(matches!("get".parse::<Mix>(), Err(MixError::Syntax(_))));
    }
}
