//! Merging the partitions' sorted shares of a listing into one page. Every key belongs to
//! one partition, so the shares are disjoint but for common prefixes: several partitions
//! report the same prefix when keys under it live on several of them.

use crate::object_io::ListItem;
use crate::versions::VersionItem;

/// An item of a partition's sorted share: a key (object or version) or a common prefix.
pub trait Listed {
    /// The name the listing sorts by: the key, or the prefix.
    fn name(&self) -> &str;
    /// The prefix, if this item is a common prefix.
    fn prefix(&self) -> Option<&str>;
}

impl Listed for ListItem {
    fn name(&self) -> &str {
        ListItem::name(self)
    }
    fn prefix(&self) -> Option<&str> {
        match self {
            ListItem::Prefix(p) => Some(p),
            ListItem::Object(_) => None,
        }
    }
}

impl Listed for VersionItem {
    fn name(&self) -> &str {
        VersionItem::name(self)
    }
    fn prefix(&self) -> Option<&str> {
        match self {
            VersionItem::Prefix(p) => Some(p),
            VersionItem::Version(_) => None,
        }
    }
}

/// One merged page: at most `max` items in name order (a partition's own order among
/// equal names, such as one key's versions, is kept), and whether more remained.
pub struct Merged<T> {
    pub items: Vec<T>,
    pub is_truncated: bool,
}

/// k-way merges `shares` (each sorted by name, each holding at most `max + 1` items) into
/// one page of at most `max`, dropping a common prefix another partition already gave.
pub fn merge<T: Listed>(shares: Vec<Vec<T>>, max: usize) -> Merged<T> {
    // Reversed, so a share's next item is its last and taking it is a pop.
    let mut shares: Vec<Vec<T>> = shares
        .into_iter()
        .map(|mut s| {
            s.reverse();
            s
        })
        .collect();
    let mut items: Vec<T> = Vec::new();
    let mut is_truncated = false;
    loop {
        // `min_by_key` keeps the first of equal names, so one partition's run of equal
        // names (a key's versions) stays together and in its order.
        let next = (0..shares.len())
            .filter_map(|i| shares[i].last().map(|it| (i, it.name())))
            .min_by_key(|&(_, name)| name)
            .map(|(i, _)| i);
        let Some(i) = next else { break };
        let item = shares[i].pop().expect("a share with a next item");
        let repeated = match (item.prefix(), items.last().and_then(|l| l.prefix())) {
            (Some(p), Some(q)) => p == q,
            _ => false,
        };
        if repeated {
            continue;
        }
        if items.len() == max {
            is_truncated = true;
            break;
        }
        items.push(item);
    }
    Merged {
        items,
        is_truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(k: &str) -> ListItem {
        ListItem::Object(crate::api::ObjectSummary {
            key: k.to_string(),
            size: 0,
            etag: [0; 16],
            etag_parts: None,
            last_modified_ms: 0,
            object_type: crate::api::ObjectType::Normal,
        })
    }

    fn names(m: &Merged<ListItem>) -> Vec<&str> {
        m.items.iter().map(|i| i.name()).collect()
    }

    #[test]
    fn merges_in_order_and_drops_repeated_prefixes() {
        let a = vec![obj("a"), ListItem::Prefix("d/".into()), obj("e")];
        let b = vec![obj("b"), ListItem::Prefix("d/".into()), obj("f")];
        let m = merge(vec![a, b], 10);
        assert_eq!(names(&m), ["a", "b", "d/", "e", "f"]);
        assert!(!m.is_truncated);
    }

    #[test]
    fn a_full_page_is_truncated_only_if_more_remain() {
        let m = merge(vec![vec![obj("a"), obj("c")], vec![obj("b")]], 3);
        assert_eq!(names(&m), ["a", "b", "c"]);
        assert!(!m.is_truncated);
        let m = merge(vec![vec![obj("a"), obj("c")], vec![obj("b")]], 2);
        assert_eq!(names(&m), ["a", "b"]);
        assert!(m.is_truncated);
    }
}
