//! Creates a bucket, uploads an object from memory and one streamed from a reader, reads
//! them back (whole, by range, and as a stream), lists and deletes them.
//!
//! ```text
//! cargo run -p ringstore-client --example put_get -- 127.0.0.1:7070 AKID SECRET
//! ```
//!
//! Arguments default to `RINGSTORE_ENDPOINT`, `RINGSTORE_ACCESS_KEY_ID` and
//! `RINGSTORE_SECRET_ACCESS_KEY`.

use bytes::Bytes;
use ringstore_client::{
    Acl, Client, ClientConfig, Error, ListObjects, PutObject, RangeSpec, StorageClass,
};
use tokio::io::AsyncReadExt;

fn arg(index: usize, env: &str, default: &str) -> String {
    std::env::args()
        .nth(index)
        .or_else(|| std::env::var(env).ok())
        .unwrap_or_else(|| default.to_owned())
}

fn put_request(bucket: &str, key: &str) -> PutObject {
    PutObject {
        bucket: bucket.into(),
        key: key.into(),
        content_type: "application/octet-stream".into(),
        user_meta: vec![("origin".into(), "example".into())],
        content_length: 0,
        content_md5: None,
        forbid_overwrite: false,
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let endpoint = arg(1, "RINGSTORE_ENDPOINT", "127.0.0.1:7070");
    let key_id = arg(2, "RINGSTORE_ACCESS_KEY_ID", "admin");
    let secret = arg(3, "RINGSTORE_SECRET_ACCESS_KEY", "admin-secret");
    let client = Client::connect(ClientConfig::new(endpoint, key_id, secret)).await?;
    client.ping().await?;

    let bucket = "example-bucket";
    match client
        .create_bucket(bucket, Acl::Private, StorageClass::Standard, "local")
        .await
    {
        Err(e) if e.status() == Some(ringstore_client::Status::BucketAlreadyExists) => {}
        other => other?,
    }

    // A small object from memory.
    let meta = client
        .put_object_bytes(
            put_request(bucket, "hello.txt"),
            Bytes::from("hello, ringstore"),
        )
        .await?;
    println!(
        "put hello.txt: {} bytes, etag {:02X?}",
        meta.size, meta.etag.md5
    );

    // A larger object streamed from any AsyncRead (here 3 MiB of a repeating pattern).
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut request = put_request(bucket, "big.bin");
    request.content_length = data.len() as u64;
    client.put_object(request, &data[..]).await?;

    let (response, body) = client.get_object_bytes(bucket, "hello.txt", None).await?;
    println!(
        "get hello.txt: {:?} ({} bytes)",
        String::from_utf8_lossy(&body),
        response.range_len
    );
    let range = Some(RangeSpec::FromTo(0, 4));
    let (_, first) = client.get_object_bytes(bucket, "hello.txt", range).await?;
    println!("range 0-4: {:?}", String::from_utf8_lossy(&first));

    // Stream the large one back as an AsyncRead and compare.
    let stream = client.get_object(bucket, "big.bin", None).await?;
    let mut read_back = Vec::new();
    stream.into_async_read().read_to_end(&mut read_back).await?;
    assert_eq!(read_back, data);
    println!("big.bin: {} bytes streamed back intact", read_back.len());

    let page = client
        .list_objects(ListObjects {
            bucket: bucket.into(),
            prefix: String::new(),
            delimiter: String::new(),
            marker: String::new(),
            max_keys: 100,
        })
        .await?;
    for object in &page.objects {
        println!("listed {} ({} bytes)", object.key, object.size);
    }

    let keys = vec!["hello.txt".to_owned(), "big.bin".to_owned()];
    client.delete_objects(bucket, keys, true).await?;
    client.delete_bucket(bucket).await?;
    println!("status: {}", client.admin_status().await?);
    Ok(())
}
