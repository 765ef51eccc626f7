//! `rm` and `stat`.

use anyhow::{bail, Result};
use ringstore_client::Client;

use super::format_ms;
use crate::uri::parse;

pub async fn rm(c: &Client, uri: &str) -> Result<()> {
    let u = parse(uri)?;
    if u.key.is_empty() {
        bail!("rm takes an object (rs://BUCKET/KEY); use rb for a bucket");
    }
    c.delete_object(&u.bucket, &u.key).await?;
    println!("delete: {uri}");
    Ok(())
}

pub async fn stat(c: &Client, uri: &str) -> Result<()> {
    let u = parse(uri)?;
    if u.key.is_empty() {
        let b = c.head_bucket(&u.bucket).await?;
        println!("Name:          {}", b.name);
        println!("Region:        {}", b.region);
        println!("ACL:           {:?}", b.acl);
        println!("Storage class: {:?}", b.storage_class);
        println!("Owner:         {}", b.owner);
        println!("Created:       {}", format_ms(b.created_ms));
        return Ok(());
    }
    let m = c.head_object(&u.bucket, &u.key).await?;
    println!("Key:           {}", m.key);
    println!("Size:          {}", m.size);
    println!("ETag:          {}", m.etag);
    println!("Content-Type:  {}", m.content_type);
    println!("Last-Modified: {}", format_ms(m.last_modified_ms));
    println!("Object type:   {:?}", m.object_type);
    for (k, v) in &m.user_meta {
        println!("Meta {k}: {v}");
    }
    Ok(())
}
