//! The digests of a streamed body, with its MD5 on a helper thread.
//!
//! MD5 (the ETag) cannot be split: it runs through the body's bytes in order, at about
//! 500 MiB/s on one core here, so it bounds a single upload. On the executor it would also
//! stall everything else the executor does for that upload (receiving the next chunk,
//! Reed-Solomon encoding, CRC32C sealing, submitting the writes). Each executor therefore
//! hands the chunks of its large bodies to one helper thread of its own, which runs MD5
//! back to back while the executor goes on storing the same chunks; the executor computes
//! the CRC-64 itself as the chunks pass (several times faster than MD5).
//!
//! The chunks are `Bytes`, shared with the stripe writer, never copied for hashing. Every
//! body keeps at most `MD5_QUEUED_BYTES_MAX` bytes waiting for the helper, so memory stays
//! bounded when MD5 is the slower side; the helper answers each chunk once hashed and the
//! body waits for the oldest answer when it is over that bound. A body's chunks go through
//! the helper's one queue in order, so the digest is the MD5 of the body as received.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::channel::oneshot;
use md5::{Digest, Md5};

use crate::constants::MD5_QUEUED_BYTES_MAX;
use crate::error::Error;
use crate::object_io::Crc64;

/// A chunk to hash into one body's MD5, and whom to tell when it is done.
struct Job {
    md5: Arc<Mutex<Md5>>,
    chunk: Bytes,
    done: oneshot::Sender<()>,
}

thread_local! {
    /// This executor's helper, started on its first large body. The helper ends when the
    /// executor's thread does: dropping the sender ends its queue.
    static HELPER: RefCell<Option<mpsc::Sender<Job>>> = const { RefCell::new(None) };
}

/// Queues `job` on this thread's helper, starting the helper first if needed.
fn submit(job: Job) -> Result<(), Error> {
    HELPER.with(|h| {
        let mut h = h.borrow_mut();
        let job = match h.as_ref() {
            None => job,
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                // The helper is gone (it cannot end on its own): start a new one.
                Err(mpsc::SendError(job)) => job,
            },
        };
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ringstore-md5".into())
            .spawn(move || run_helper(rx))
            .map_err(|e| Error::Internal(format!("cannot start the MD5 thread: {e}")))?;
        tx.send(job)
            .map_err(|_| Error::Internal("the MD5 thread ended at once".into()))?;
        *h = Some(tx);
        Ok(())
    })
}

fn run_helper(rx: mpsc::Receiver<Job>) {
    while let Ok(Job { md5, chunk, done }) = rx.recv() {
        md5.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .update(&chunk);
        // Both go before the answer: `finish` takes the state back once every chunk is
        // answered, and the chunk's memory is free by then.
        drop((md5, chunk));
        // The body may have failed and gone meanwhile: nobody to tell.
        let _ = done.send(());
    }
}

/// MD5 and CRC-64/XZ of a body that arrives in chunks on an executor.
pub struct StreamDigests {
    md5: Arc<Mutex<Md5>>,
    crc64: Crc64,
    /// Chunks queued on the helper and not yet hashed, oldest first, with their lengths.
    queued: VecDeque<(oneshot::Receiver<()>, usize)>,
    queued_bytes: usize,
}

impl StreamDigests {
    pub fn new() -> StreamDigests {
        StreamDigests {
            md5: Arc::new(Mutex::new(Md5::new())),
            crc64: Crc64::new(),
            queued: VecDeque::new(),
            queued_bytes: 0,
        }
    }

    /// Adds the next chunk of the body: its MD5 is queued on the helper, its CRC-64 is
    /// computed now. Waits first while too many bytes of this body wait for the helper.
    pub async fn update(&mut self, chunk: &Bytes) -> Result<(), Error> {
        if chunk.is_empty() {
            return Ok(());
        }
        while self.queued_bytes + chunk.len() > MD5_QUEUED_BYTES_MAX && !self.queued.is_empty() {
            self.wait_oldest().await?;
        }
        let (done, answer) = oneshot::channel();
        submit(Job {
            md5: self.md5.clone(),
            chunk: chunk.clone(),
            done,
        })?;
        self.queued.push_back((answer, chunk.len()));
        self.queued_bytes += chunk.len();
        self.crc64.write(chunk);
        Ok(())
    }

    async fn wait_oldest(&mut self) -> Result<(), Error> {
        let (answer, len) = self.queued.pop_front().expect("a chunk is queued");
        self.queued_bytes -= len;
        answer
            .await
            .map_err(|_| Error::Internal("the MD5 thread dropped a chunk".into()))
    }

    /// Waits for the helper to hash every chunk; returns (MD5, CRC-64/XZ).
    pub async fn finish(mut self) -> Result<([u8; 16], u64), Error> {
        while !self.queued.is_empty() {
            self.wait_oldest().await?;
        }
        let md5 = Arc::try_unwrap(self.md5)
            .map_err(|_| Error::Internal("the MD5 thread still holds a body".into()))?
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok((md5.finalize().into(), self.crc64.sum64()))
    }
}

impl Default for StreamDigests {
    fn default() -> StreamDigests {
        StreamDigests::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference implementation (a 16-way table) the streamed CRC-64 must equal.
    const XZ: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);

    fn crc64_of_pieces(data: &[u8], cuts: &[usize]) -> u64 {
        let mut d = Crc64::new();
        let mut at = 0;
        for &c in cuts.iter().chain([data.len()].iter()) {
            d.write(&data[at..c]);
            at = c;
        }
        d.sum64()
    }

    #[test]
    fn crc64_check_value() {
        let mut d = Crc64::new();
        d.write(b"123456789");
        assert_eq!(d.sum64(), 0x995d_c9bb_df19_39fa);
        assert_eq!(Crc64::new().sum64(), 0);
    }

    /// Random bodies of lengths around the SIMD loop's 16- and 128-byte steps and up to
    /// 64 KiB, fed whole and in random pieces (a streamed body's chunks), against the table.
    #[test]
    fn crc64_equals_the_table_on_random_data_and_splits() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x05ee_dc64);
        let mut lengths: Vec<usize> = (0..=300).collect();
        lengths.extend([511, 512, 513, 4031, 4032, 4096, 65_535, 65_536, 65_537]);
        lengths.extend((0..40).map(|_| rng.gen_range(0..200_000)));
        for len in lengths {
            let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let want = XZ.checksum(&data);
            assert_eq!(crc64_of_pieces(&data, &[]), want, "len {len}");
            for _ in 0..4 {
                let mut cuts: Vec<usize> = (0..rng.gen_range(1..6))
                    .map(|_| rng.gen_range(0..=len))
                    .collect();
                cuts.sort_unstable();
                assert_eq!(
                    crc64_of_pieces(&data, &cuts),
                    want,
                    "len {len} cuts {cuts:?}"
                );
            }
        }
    }

    fn body(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 131 % 251) as u8).collect()
    }

    #[test]
    fn equals_the_digests_of_the_whole_body() {
        let data = Bytes::from(body(9 * MD5_QUEUED_BYTES_MAX / 4 + 12_345));
        let (md5, crc64) = futures::executor::block_on(async {
            let mut d = StreamDigests::new();
            let mut at = 0;
            // Uneven chunk sizes, some larger than the queue bound, one empty.
            for (i, n) in [1usize, 0, 4031, 300_000, MD5_QUEUED_BYTES_MAX + 7]
                .iter()
                .cycle()
                .enumerate()
            {
                if at == data.len() {
                    break;
                }
                let n = (*n + i).min(data.len() - at);
                d.update(&data.slice(at..at + n)).await.unwrap();
                at += n;
            }
            d.finish().await.unwrap()
        });
        assert_eq!(md5, <[u8; 16]>::from(Md5::digest(&data)));
        assert_eq!(crc64, XZ.checksum(&data));
    }

    #[test]
    fn empty_body() {
        let (md5, crc64) =
            futures::executor::block_on(async { StreamDigests::new().finish().await.unwrap() });
        assert_eq!(hex::encode(md5), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(crc64, 0);
    }

    #[test]
    fn bodies_in_parallel_keep_their_own_digests() {
        let a = Bytes::from(body(3 << 20));
        let b = Bytes::from(body(2 << 20).into_iter().rev().collect::<Vec<u8>>());
        let (da, db) = futures::executor::block_on(async {
            let (mut x, mut y) = (StreamDigests::new(), StreamDigests::new());
            for i in 0..(3 << 20) / 65536 {
                let r = i * 65536..(i + 1) * 65536;
                x.update(&a.slice(r.clone())).await.unwrap();
                if r.end <= b.len() {
                    y.update(&b.slice(r)).await.unwrap();
                }
            }
            (x.finish().await.unwrap(), y.finish().await.unwrap())
        });
        assert_eq!(da.0, <[u8; 16]>::from(Md5::digest(&a)));
        assert_eq!(db.0, <[u8; 16]>::from(Md5::digest(&b)));
    }
}
