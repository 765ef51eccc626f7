//! `ls`: buckets, or objects and common prefixes, following markers page by page.

use anyhow::Result;
use ringstore_client::{Client, ListObjects};

use super::format_ms;
use crate::uri::parse;

pub async fn ls(
    c: &Client,
    uri: Option<&str>,
    delimiter: Option<&str>,
    limit: Option<usize>,
) -> Result<()> {
    let Some(uri) = uri else {
        for b in c.list_buckets().await? {
            println!("{}  rs://{}", format_ms(b.created_ms), b.name);
        }
        return Ok(());
    };
    let u = parse(uri)?;
    let mut req = ListObjects {
        bucket: u.bucket.clone(),
        prefix: u.key.clone(),
        delimiter: delimiter.unwrap_or("").to_string(),
        marker: String::new(),
        max_keys: 1000,
    };
    let mut shown = 0usize;
    loop {
        let page = c.list_objects(req.clone()).await?;
        for p in &page.common_prefixes {
            println!("{:>19}  {:>12}  rs://{}/{}", "", "PRE", u.bucket, p);
        }
        for o in &page.objects {
            println!(
                "{}  {:>12}  rs://{}/{}",
                format_ms(o.last_modified_ms),
                o.size,
                u.bucket,
                o.key
            );
        }
        shown += page.common_prefixes.len() + page.objects.len();
        if limit.is_some_and(|l| shown >= l) {
            break;
        }
        match page.next_marker {
            Some(m) if page.is_truncated => req.marker = m,
            _ => break,
        }
    }
    Ok(())
}
