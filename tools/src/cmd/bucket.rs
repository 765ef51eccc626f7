//! `mb` and `rb`.

use anyhow::{bail, Result};
use ringstore_client::{Acl, Client, StorageClass};

use crate::uri::parse;

pub fn parse_acl(s: &str) -> Result<Acl> {
    Ok(match s {
        "private" => Acl::Private,
        "public-read" => Acl::PublicRead,
        "public-read-write" => Acl::PublicReadWrite,
        _ => bail!("invalid ACL {s:?}: use private, public-read or public-read-write"),
    })
}

pub fn parse_storage_class(s: &str) -> Result<StorageClass> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "standard" => StorageClass::Standard,
        "ia" => StorageClass::Ia,
        "archive" => StorageClass::Archive,
        _ => bail!("invalid storage class {s:?}: use Standard, IA or Archive"),
    })
}

pub async fn mb(c: &Client, uri: &str, acl: &str, class: &str, region: &str) -> Result<()> {
    let u = parse(uri)?;
    if !u.key.is_empty() {
        bail!("mb takes a bucket (rs://BUCKET), not an object");
    }
    c.create_bucket(
        &u.bucket,
        parse_acl(acl)?,
        parse_storage_class(class)?,
        region,
    )
    .await?;
    println!("make_bucket: rs://{}", u.bucket);
    Ok(())
}

pub async fn rb(c: &Client, uri: &str) -> Result<()> {
    let u = parse(uri)?;
    if !u.key.is_empty() {
        bail!("rb takes a bucket (rs://BUCKET), not an object");
    }
    c.delete_bucket(&u.bucket).await?;
    println!("remove_bucket: rs://{}", u.bucket);
    Ok(())
}
