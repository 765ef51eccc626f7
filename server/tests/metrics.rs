//! The Prometheus endpoint against a real server (real engine, real files), spoken to over
//! a std `TcpStream` with hand-written HTTP/1.1.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use ringstore_engine::{Acl, PutOptions, StorageClass};
use ringstore_server::ServeConfig;

fn config(data_dir: PathBuf) -> ServeConfig {
    ServeConfig {
        data_dir,
        device_size_bytes: 64 << 20,
        extent_size_bytes: 1 << 20,
        partitions: 2,
        prefill: false,
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: None,
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..ServeConfig::default()
    }
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Sends `request` as is, then reads the whole response (the server closes after one).
fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_owned(), body.to_owned())
}

fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    exchange(addr, request.as_bytes())
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(body: &str, series: &str) -> Option<u64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_endpoint_serves_counters_and_gauges() {
    let dir = fresh_dir("metrics");
    let server = ringstore_server::start(config(dir.clone())).expect("server starts");
    let addr = server.metrics_addr().expect("metrics enabled");
    assert_ne!(addr.port(), 0);

    let handle = server.handle();
    futures::executor::block_on(async {
        handle
            .create_bucket(
                "metrics",
                "local",
                Acl::Private,
                StorageClass::Standard,
                "root",
            )
            .await
            .unwrap();
        let data = Bytes::from_static(b"hello metrics");
        handle
            .put_object_bytes("metrics", "k", PutOptions::default(), data)
            .await
            .unwrap();
    });

    let (status, head, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{head}\n{body}");
    eprintln!("{head}\n\n{body}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        sample(&body, "ringstore_puts_total").unwrap() >= 1,
        "{body}"
    );
    assert!(
        sample(&body, "ringstore_bytes_in_total").unwrap() >= 13,
        "{body}"
    );
    assert!(
        body.contains("# TYPE ringstore_puts_total counter"),
        "{body}"
    );
    assert!(sample(&body, "ringstore_device_bytes_written_total{kind=\"data\"}").is_some());
    assert_eq!(
        sample(&body, "ringstore_devices{state=\"configured\"}"),
        Some(6)
    );
    let mut objects = 0;
    for p in 0..2 {
        let labels = format!("{{partition=\"{p}\"}}");
        objects += sample(&body, &format!("ringstore_partition_objects{labels}")).unwrap();
        for gauge in ["object_bytes", "extents_free", "extents_total"] {
            let series = format!("ringstore_partition_{gauge}{labels}");
            assert!(sample(&body, &series).is_some(), "{series} in {body}");
        }
    }
    assert_eq!(objects, 1);
    // Every family is announced once.
    let types = body.lines().filter(|l| l.starts_with("# TYPE")).count();
    assert_eq!(types, 31, "{body}");
    // The put's batch was flushed: at least one fdatasync was issued.
    assert!(sample(&body, "ringstore_device_flushes_total").unwrap() >= 1);
    // Nothing was written while a device was down.
    assert_eq!(sample(&body, "ringstore_degraded_stripes"), Some(0));
    assert_eq!(
        sample(&body, "ringstore_degraded_stripes_written_total"),
        Some(0)
    );
    assert_eq!(
        sample(&body, "ringstore_rebuild_blocks_written_total"),
        Some(0)
    );
    for family in [
        "blocks",
        "bytes",
        "corrupt",
        "repaired",
        "unrecoverable",
        "passes",
    ] {
        let series = format!("ringstore_scrub_{family}_total");
        assert!(sample(&body, &series).is_some(), "{series} in {body}");
    }

    // The query string is ignored; other paths and methods are refused.
    assert_eq!(get(addr, "/metrics?x=1").0, 200);
    assert_eq!(get(addr, "/nope").0, 404);
    let (status, head, _) = exchange(addr, b"POST /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, 405);
    assert!(head.contains("Allow: GET"), "{head}");

    bad_requests_get_4xx_and_the_endpoint_survives(addr);

    server.shutdown();
    assert!(
        TcpStream::connect(addr).is_err(),
        "metrics stopped with the server"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn bad_requests_get_4xx_and_the_endpoint_survives(addr: SocketAddr) {
    let garbage: &[&[u8]] = &[
        b"\x00\x01\x02\xff garbage\r\n\r\n",
        b"GET /metrics HTTP/9.9\r\n\r\n",
        b"GET\r\n\r\n",
    ];
    for request in garbage {
        let (status, head, _) = exchange(addr, request);
        assert!((400..500).contains(&status), "{request:?}: {head}");
        assert_eq!(get(addr, "/metrics").0, 200);
    }
    // A head longer than the limit.
    let mut long = b"GET /metrics HTTP/1.1\r\nX-Long: ".to_vec();
    long.resize(20 * 1024, b'a');
    assert_eq!(exchange(addr, &long).0, 431);
    // A head cut short by the client.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"GET /metr").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    // A client that connects and leaves without a byte.
    drop(TcpStream::connect(addr).unwrap());
    assert_eq!(get(addr, "/metrics").0, 200);
}

#[test]
fn disabled_metrics_and_busy_port() {
    let dir = fresh_dir("metrics-off");
    let cfg = ServeConfig {
        metrics_listen: None,
        ..config(dir.clone())
    };
    let server = ringstore_server::start(cfg).expect("server starts");
    assert_eq!(server.metrics_addr(), None);
    server.shutdown();

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap();
    let cfg = ServeConfig {
        metrics_listen: Some(busy_addr),
        ..config(dir.clone())
    };
    let err = ringstore_server::start(cfg)
        .err()
        .expect("busy port fails the start");
    let text = format!("{err:#}");
    assert!(text.contains(&busy_addr.to_string()), "{text}");
    assert!(text.contains("metrics"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
