//! `cp`: uploads and downloads, streamed (never the whole object in memory, except a body
//! read from stdin, whose length must be known before the upload starts).

use std::io::IsTerminal;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use ringstore_client::{Client, PutObject};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use crate::uri::{is_remote, parse, parse_range};

pub struct CpOptions {
    pub range: Option<String>,
    pub content_type: Option<String>,
    pub no_overwrite: bool,
}

/// Transfers over this size show a progress bar when stderr is a terminal.
const PROGRESS_BYTES_MIN: u64 = 4 << 20;

fn progress(len: u64) -> Option<ProgressBar> {
    if len < PROGRESS_BYTES_MIN || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{bytes}/{total_bytes} {bar:40} {bytes_per_sec} eta {eta}")
            .expect("valid template"),
    );
    Some(pb)
}

pub async fn cp(c: &Client, src: &str, dst: &str, o: &CpOptions) -> Result<()> {
    match (is_remote(src), is_remote(dst)) {
        (false, true) => upload(c, src, dst, o).await,
        (true, false) => download(c, src, dst, o).await,
        (true, true) => bail!("copying between two rs:// objects is not supported yet"),
        (false, false) => bail!("one of the two paths must be an rs:// address"),
    }
}

struct Counting<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Some(b) = &self.bar {
            b.inc((buf.filled().len() - before) as u64);
        }
        r
    }
}

async fn upload(c: &Client, src: &str, dst: &str, o: &CpOptions) -> Result<()> {
    let u = parse(dst)?;
    let key = if u.key.is_empty() || u.key.ends_with('/') {
        let name = std::path::Path::new(src)
            .file_name()
            .and_then(|n| n.to_str());
        match name {
            Some(n) if src != "-" => format!("{}{n}", u.key),
            _ => bail!("give the object key: rs://{}/KEY", u.bucket),
        }
    } else {
        u.key.clone()
    };
    let mut req = PutObject {
        bucket: u.bucket.clone(),
        key: key.clone(),
        content_type: o.content_type.clone().unwrap_or_default(),
        user_meta: Vec::new(),
        content_length: 0,
        content_md5: None,
        forbid_overwrite: o.no_overwrite,
    };
    let meta = if src == "-" {
        let mut data = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut data).await?;
        c.put_object_bytes(req, Bytes::from(data)).await?
    } else {
        let file = tokio::fs::File::open(src)
            .await
            .with_context(|| format!("cannot open {src}"))?;
        req.content_length = file.metadata().await?.len();
        let bar = progress(req.content_length);
        let meta = c
            .put_object(
                req,
                Counting {
                    inner: file,
                    bar: bar.clone(),
                },
            )
            .await?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        meta
    };
    eprintln!(
        "upload: {src} to rs://{}/{key} ({} bytes, ETag {})",
        u.bucket, meta.size, meta.etag
    );
    Ok(())
}

async fn download(c: &Client, src: &str, dst: &str, o: &CpOptions) -> Result<()> {
    let u = parse(src)?;
    if u.key.is_empty() {
        bail!("give the object to download: rs://{}/KEY", u.bucket);
    }
    let range = o.range.as_deref().map(parse_range).transpose()?;
    let mut stream = c.get_object(&u.bucket, &u.key, range).await?;
    let len = stream.response.range_len;
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = if dst == "-" {
        Box::new(tokio::io::stdout())
    } else {
        let mut path = std::path::PathBuf::from(dst);
        if path.is_dir() {
            path.push(u.key.rsplit('/').next().unwrap_or(&u.key));
        }
        Box::new(
            tokio::fs::File::create(&path)
                .await
                .with_context(|| format!("cannot create {}", path.display()))?,
        )
    };
    let bar = if dst == "-" { None } else { progress(len) };
    let mut got = 0u64;
    while let Some(chunk) = stream.next_chunk().await {
        let chunk = chunk?;
        got += chunk.len() as u64;
        out.write_all(&chunk).await?;
        if let Some(b) = &bar {
            b.inc(chunk.len() as u64);
        }
    }
    out.flush().await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if got != len {
        bail!("download of {src} ended after {got} of {len} bytes");
    }
    if dst != "-" {
        eprintln!("download: {src} to {dst} ({got} bytes)");
    }
    Ok(())
}
