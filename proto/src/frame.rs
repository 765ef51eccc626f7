//! Frames: the fixed 32-byte header, the body, and the incremental decoder.
//!
//! ```text
//! offset size field           notes
//!      0    4 magic           b"RSP1"
//!      4    1 version         1
//!      5    1 flags           bit0 MORE, bit1 RESPONSE, bit2 CHUNK, bit3 PRINCIPAL,
//!                             bits 4..7 zero
//!      6    2 opcode          raw u16, see opcode.rs
//!      8    8 request_id      chosen by the client, echoed by the server
//!     16    4 body_len        ≤ FRAME_BODY_BYTES_MAX
//!     20    2 status          0 in requests; the response status
//!     22    2 reserved        0
//!     24    4 body_crc32c     CRC32C of the body (of no bytes: 0)
//!     28    4 header_crc32c   CRC32C of bytes 0..28
//! ```
//!
//! All integers are little-endian. The decoder trusts nothing in the header until the magic,
//! the version and the header checksum have been checked, and it checks `body_len` against
//! the limit before waiting for (or allocating) the body.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{Body, BodyError};
use crate::constants::{
    FRAME_BODY_BYTES_MAX, HEADER_BYTES, HEADER_CHECKSUMMED_BYTES, MAGIC, VERSION,
};
use crate::status::Status;

/// Byte offsets of the header fields (the table above, repeated for the code).
pub const OFFSET_MAGIC: usize = 0;
pub const OFFSET_VERSION: usize = 4;
pub const OFFSET_FLAGS: usize = 5;
pub const OFFSET_OPCODE: usize = 6;
pub const OFFSET_REQUEST_ID: usize = 8;
pub const OFFSET_BODY_LEN: usize = 16;
pub const OFFSET_STATUS: usize = 20;
pub const OFFSET_RESERVED: usize = 22;
pub const OFFSET_BODY_CRC32C: usize = 24;
pub const OFFSET_HEADER_CRC32C: usize = 28;
const _: () = assert!(OFFSET_HEADER_CRC32C == HEADER_CHECKSUMMED_BYTES);
const _: () = assert!(OFFSET_HEADER_CRC32C + 4 == HEADER_BYTES);

/// The opcode of a connection-level error frame (sent with request id 0).
pub const CONNECTION_OPCODE: u16 = 0x0000;

/// The header's flag byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// More CHUNK frames of this request or response follow.
    pub const MORE: Flags = Flags(1 << 0);
    /// The frame travels server → client.
    pub const RESPONSE: Flags = Flags(1 << 1);
    /// The frame is a body chunk of the message with the same request id, not a message.
    pub const CHUNK: Flags = Flags(1 << 2);
    /// The request body starts with a principal prefix (`principal.rs`): an administrator
    /// key acts on behalf of that principal. Only on request message frames.
    pub const PRINCIPAL: Flags = Flags(1 << 3);
    /// Every defined bit; the others must be zero.
    pub const KNOWN: Flags = Flags(0b1111);
    pub const NONE: Flags = Flags(0);

    pub fn from_bits(bits: u8) -> Option<Flags> {
        (bits & !Self::KNOWN.0 == 0).then_some(Flags(bits))
    }
    pub fn bits(self) -> u8 {
        self.0
    }
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn with(self, other: Flags, on: bool) -> Flags {
        if on {
            Flags(self.0 | other.0)
        } else {
            Flags(self.0 & !other.0)
        }
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// The header fields a sender chooses; the rest (magic, version, lengths, checksums) are
/// derived from the body when encoding and checked when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    pub flags: Flags,
    /// Raw, so that an unknown opcode is answerable (`Status::UnknownOpcode`).
    pub opcode: u16,
    pub request_id: u64,
    /// Raw status code; 0 in requests. See [`Status`].
    pub status: u16,
}

impl FrameHeader {
    /// A request message frame (set MORE with [`FrameHeader::more`] if chunks follow).
    pub fn request(opcode: u16, request_id: u64) -> FrameHeader {
        FrameHeader {
            flags: Flags::NONE,
            opcode,
            request_id,
            status: 0,
        }
    }

    /// A response message frame.
    pub fn response(opcode: u16, request_id: u64, status: Status) -> FrameHeader {
        let status = status.code();
        FrameHeader {
            flags: Flags::RESPONSE,
            opcode,
            request_id,
            status,
        }
    }

    /// A body chunk of the request (or response) `request_id`.
    pub fn chunk(opcode: u16, request_id: u64, response: bool, more: bool) -> FrameHeader {
        let flags = Flags::CHUNK
            .with(Flags::RESPONSE, response)
            .with(Flags::MORE, more);
        FrameHeader {
            flags,
            opcode,
            request_id,
            status: 0,
        }
    }

    /// The same header with MORE set or cleared.
    pub fn more(self, more: bool) -> FrameHeader {
        FrameHeader {
            flags: self.flags.with(Flags::MORE, more),
            ..self
        }
    }

    pub fn is_response(&self) -> bool {
        self.flags.contains(Flags::RESPONSE)
    }
    pub fn is_chunk(&self) -> bool {
        self.flags.contains(Flags::CHUNK)
    }
    pub fn has_more(&self) -> bool {
        self.flags.contains(Flags::MORE)
    }
    pub fn has_principal(&self) -> bool {
        self.flags.contains(Flags::PRINCIPAL)
    }

    /// The status as an enum; `Err(code)` for a code this crate does not know.
    pub fn status(&self) -> Result<Status, u16> {
        Status::try_from(self.status)
    }

    /// The 32 header bytes for `body`, for senders that write the header and the body with
    /// one vectored write instead of copying a large chunk.
    ///
    /// Panics if the header breaks a rule the decoder checks: building such a frame is a
    /// bug in the sender, not a fault of the peer.
    pub fn encode(&self, body: &[u8]) -> [u8; HEADER_BYTES] {
        assert!(
            body.len() <= FRAME_BODY_BYTES_MAX,
            "frame body {} bytes",
            body.len()
        );
        assert!(Flags::from_bits(self.flags.0).is_some());
        assert!(
            self.is_response() || self.status == 0,
            "status in a request"
        );
        let mut h = [0u8; HEADER_BYTES];
        h[OFFSET_MAGIC..OFFSET_VERSION].copy_from_slice(&MAGIC);
        h[OFFSET_VERSION] = VERSION;
        h[OFFSET_FLAGS] = self.flags.0;
        put(&mut h, OFFSET_OPCODE, &self.opcode.to_le_bytes());
        put(&mut h, OFFSET_REQUEST_ID, &self.request_id.to_le_bytes());
        put(&mut h, OFFSET_BODY_LEN, &(body.len() as u32).to_le_bytes());
        put(&mut h, OFFSET_STATUS, &self.status.to_le_bytes());
        put(
            &mut h,
            OFFSET_BODY_CRC32C,
            &crc32c::crc32c(body).to_le_bytes(),
        );
        let header_crc = crc32c::crc32c(&h[..HEADER_CHECKSUMMED_BYTES]);
        put(&mut h, OFFSET_HEADER_CRC32C, &header_crc.to_le_bytes());
        h
    }
}

fn put(h: &mut [u8; HEADER_BYTES], offset: usize, bytes: &[u8]) {
    h[offset..offset + bytes.len()].copy_from_slice(bytes);
}

/// Appends one frame (header and body) to `out`. Panics as [`FrameHeader::encode`].
pub fn encode_frame(header: &FrameHeader, body: &[u8], out: &mut BytesMut) {
    out.reserve(HEADER_BYTES + body.len());
    out.put_slice(&header.encode(body));
    out.put_slice(body);
}

/// Appends one frame whose body is `message`, encoded in place (no intermediate buffer).
/// On error `out` is left as it was.
pub fn encode_message_frame(
    header: &FrameHeader,
    message: &impl Body,
    out: &mut BytesMut,
) -> Result<(), BodyError> {
    let start = out.len();
    out.put_bytes(0, HEADER_BYTES);
    if let Err(e) = message.encode(out) {
        out.truncate(start);
        return Err(e);
    }
    let (head, body) = out[start..].split_at_mut(HEADER_BYTES);
    head.copy_from_slice(&header.encode(body));
    Ok(())
}

/// Appends an error response: status `status` and a UTF-8 message, cut at a character
/// boundary to `ERROR_MESSAGE_BYTES_MAX`. Use request id [`CONNECTION_REQUEST_ID`] and
/// opcode [`CONNECTION_OPCODE`] for a connection-level error.
///
/// [`CONNECTION_REQUEST_ID`]: crate::constants::CONNECTION_REQUEST_ID
pub fn encode_error_frame(
    opcode: u16,
    request_id: u64,
    status: Status,
    message: &str,
    out: &mut BytesMut,
) {
    assert!(status != Status::Ok);
    let message = crate::status::truncate_message(message);
    encode_frame(
        &FrameHeader::response(opcode, request_id, status),
        message.as_bytes(),
        out,
    );
}

/// A decoded frame. `body` shares the receive buffer's allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: FrameHeader,
    pub body: Bytes,
}

/// A header that passed every check; the body is not yet verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedHeader {
    pub header: FrameHeader,
    pub body_len: usize,
    pub body_crc32c: u32,
}

impl DecodedHeader {
    /// Header plus body.
    pub fn frame_bytes(&self) -> usize {
        HEADER_BYTES + self.body_len
    }
}

/// Why a byte stream is not a valid frame. Every variant is fatal for the connection: the
/// stream cannot be resynchronised. See PROTOCOL.md, "Decode errors".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The first bytes are not `b"RSP1"`: the peer does not speak this protocol.
    #[error("bad magic {found:02x?}")]
    BadMagic { found: Vec<u8> },
    /// A protocol version this crate does not speak.
    #[error("unsupported protocol version {version}")]
    BadVersion { version: u8 },
    /// The header checksum does not match: nothing in the header can be trusted.
    #[error("header checksum 0x{stored:08x}, computed 0x{computed:08x}")]
    BadHeaderChecksum { stored: u32, computed: u32 },
    /// Undefined flag bits are set.
    #[error("undefined flag bits in 0x{flags:02x}")]
    UnknownFlags { flags: u8 },
    /// PRINCIPAL is set on a response or chunk frame; it belongs to request messages only.
    #[error("the PRINCIPAL flag on a response or chunk frame (flags 0x{flags:02x})")]
    MisplacedPrincipal { flags: u8 },
    /// The reserved header field is not zero.
    #[error("reserved header field is 0x{reserved:04x}, not zero")]
    ReservedNotZero { reserved: u16 },
    /// A request frame (RESPONSE clear) carries a non-zero status.
    #[error("request frame carries status 0x{status:04x}")]
    StatusInRequest { status: u16 },
    /// `body_len` is over the limit; checked before the body is awaited.
    #[error("frame body of {len} bytes exceeds the limit of {max}")]
    BodyTooLarge { len: usize, max: usize },
    /// The body checksum does not match.
    #[error("body checksum 0x{stored:08x}, computed 0x{computed:08x}")]
    BadBodyChecksum { stored: u32, computed: u32 },
}

impl DecodeError {
    /// Whether the header passed its checksum, so the peer speaks this protocol and will
    /// understand a connection-level error frame before the server closes.
    pub fn header_trusted(&self) -> bool {
        !matches!(
            self,
            DecodeError::BadMagic { .. }
                | DecodeError::BadVersion { .. }
                | DecodeError::BadHeaderChecksum { .. }
        )
    }
}

fn le_u16(b: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes([b[offset], b[offset + 1]])
}

fn le_u32(b: &[u8], offset: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[offset..offset + 4]);
    u32::from_le_bytes(x)
}

/// Checks and decodes the header at the start of `buf`. `Ok(None)`: more bytes needed.
/// The magic and version are checked on however many bytes have arrived, so a peer that
/// speaks another protocol (say, HTTP) is rejected after its first bytes.
pub fn decode_header(buf: &[u8]) -> Result<Option<DecodedHeader>, DecodeError> {
    let magic_seen = buf.len().min(MAGIC.len());
    if buf[..magic_seen] != MAGIC[..magic_seen] {
        return Err(DecodeError::BadMagic {
            found: buf[..magic_seen].to_vec(),
        });
    }
    if buf.len() > OFFSET_VERSION && buf[OFFSET_VERSION] != VERSION {
        return Err(DecodeError::BadVersion {
            version: buf[OFFSET_VERSION],
        });
    }
    if buf.len() < HEADER_BYTES {
        return Ok(None);
    }
    let stored = le_u32(buf, OFFSET_HEADER_CRC32C);
    let computed = crc32c::crc32c(&buf[..HEADER_CHECKSUMMED_BYTES]);
    if stored != computed {
        return Err(DecodeError::BadHeaderChecksum { stored, computed });
    }
    let flags = Flags::from_bits(buf[OFFSET_FLAGS]).ok_or(DecodeError::UnknownFlags {
        flags: buf[OFFSET_FLAGS],
    })?;
    if flags.contains(Flags::PRINCIPAL)
        && (flags.contains(Flags::RESPONSE) || flags.contains(Flags::CHUNK))
    {
        let flags = flags.bits();
        return Err(DecodeError::MisplacedPrincipal { flags });
    }
    let reserved = le_u16(buf, OFFSET_RESERVED);
    if reserved != 0 {
        return Err(DecodeError::ReservedNotZero { reserved });
    }
    let status = le_u16(buf, OFFSET_STATUS);
    if !flags.contains(Flags::RESPONSE) && status != 0 {
        return Err(DecodeError::StatusInRequest { status });
    }
    let body_len = le_u32(buf, OFFSET_BODY_LEN) as usize;
    if body_len > FRAME_BODY_BYTES_MAX {
        return Err(DecodeError::BodyTooLarge {
            len: body_len,
            max: FRAME_BODY_BYTES_MAX,
        });
    }
    let mut request_id = [0u8; 8];
    request_id.copy_from_slice(&buf[OFFSET_REQUEST_ID..OFFSET_REQUEST_ID + 8]);
    let header = FrameHeader {
        flags,
        opcode: le_u16(buf, OFFSET_OPCODE),
        request_id: u64::from_le_bytes(request_id),
        status,
    };
    let body_crc32c = le_u32(buf, OFFSET_BODY_CRC32C);
    Ok(Some(DecodedHeader {
        header,
        body_len,
        body_crc32c,
    }))
}

fn check_body(header: &DecodedHeader, body: &[u8]) -> Result<(), DecodeError> {
    debug_assert_eq!(body.len(), header.body_len);
    let computed = crc32c::crc32c(body);
    if computed != header.body_crc32c {
        return Err(DecodeError::BadBodyChecksum {
            stored: header.body_crc32c,
            computed,
        });
    }
    Ok(())
}

/// A frame borrowed from the input of [`decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    pub header: FrameHeader,
    pub body: &'a [u8],
}

impl FrameRef<'_> {
    /// Bytes of input the frame occupies (header plus body).
    pub fn frame_bytes(&self) -> usize {
        HEADER_BYTES + self.body.len()
    }
}

/// Decodes the frame at the start of `buf`, without state and without copying: the entry
/// point for fuzzing. `Ok(None)`: `buf` holds only a prefix of a valid frame.
pub fn decode(buf: &[u8]) -> Result<Option<FrameRef<'_>>, DecodeError> {
    let Some(header) = decode_header(buf)? else {
        return Ok(None);
    };
    if buf.len() < header.frame_bytes() {
        return Ok(None);
    }
    let body = &buf[HEADER_BYTES..header.frame_bytes()];
    check_body(&header, body)?;
    Ok(Some(FrameRef {
        header: header.header,
        body,
    }))
}

/// Incremental decoder over a receive buffer. It checks each header once, however many
/// reads its body takes, and after an error it keeps returning that error: the stream is
/// no longer in sync and the connection must be closed.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    pending: Option<DecodedHeader>,
    failed: Option<DecodeError>,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Takes the next complete frame off the front of `buf`. `Ok(None)`: read more bytes
    /// into `buf` and call again; the buffer then has capacity for the whole frame.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.decode_unchecked(buf);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    fn decode_unchecked(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        let header = match self.pending {
            Some(header) => header,
            None => match decode_header(buf)? {
                Some(header) => *self.pending.insert(header),
                None => {
                    buf.reserve(HEADER_BYTES.saturating_sub(buf.len()));
                    return Ok(None);
                }
            },
        };
        if buf.len() < header.frame_bytes() {
            buf.reserve(header.frame_bytes() - buf.len());
            return Ok(None);
        }
        self.pending = None;
        let mut body = buf.split_to(header.frame_bytes());
        let body = body.split_off(HEADER_BYTES).freeze();
        check_body(&header, &body)?;
        Ok(Some(Frame {
            header: header.header,
            body,
        }))
    }

    /// The header of the frame whose body is being awaited, if any.
    pub fn pending_header(&self) -> Option<&DecodedHeader> {
        self.pending.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::CONNECTION_REQUEST_ID;
    use crate::test_support::XorShift;

    fn frame_bytes(header: &FrameHeader, body: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        encode_frame(header, body, &mut out);
        out
    }

    /// Rewrites the header checksum after a test has tampered with the header.
    fn reseal(buf: &mut [u8]) {
        let crc = crc32c::crc32c(&buf[..HEADER_CHECKSUMMED_BYTES]);
        buf[OFFSET_HEADER_CRC32C..HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn header_layout_matches_the_table() {
        let header =
            FrameHeader::response(0x0202, 0x1122_3344_5566_7788, Status::NoSuchKey).more(true);
        let b = frame_bytes(&header, b"abc");
        assert_eq!(&b[0..4], b"RSP1");
        assert_eq!(b[4], 1);
        assert_eq!(b[5], 0b011);
        assert_eq!(&b[6..8], &[0x02, 0x02]);
        assert_eq!(&b[8..16], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&b[16..20], &3u32.to_le_bytes());
        assert_eq!(&b[20..22], &0x0403u16.to_le_bytes());
        assert_eq!(&b[22..24], &[0, 0]);
        assert_eq!(&b[24..28], &crc32c::crc32c(b"abc").to_le_bytes());
        assert_eq!(&b[28..32], &crc32c::crc32c(&b[..28]).to_le_bytes());
        assert_eq!(&b[32..], b"abc");
    }

    #[test]
    fn round_trip_through_decode_and_decoder() {
        let headers = [
            FrameHeader::request(0x0201, 1).more(true),
            FrameHeader::chunk(0x0201, 1, false, true),
            FrameHeader::chunk(0x0202, u64::MAX, true, false),
            FrameHeader::response(0x0003, 7, Status::Ok),
        ];
        let bodies: [&[u8]; 4] = [b"", b"x", &[0xAB; 4096], &[7; FRAME_BODY_BYTES_MAX]];
        let mut decoder = FrameDecoder::new();
        for header in &headers {
            for body in bodies {
                let mut buf = frame_bytes(header, body);
                let frame = decode(&buf).unwrap().unwrap();
                assert_eq!((frame.header, frame.body), (*header, body));
                assert_eq!(frame.frame_bytes(), buf.len());
                let frame = decoder.decode(&mut buf).unwrap().unwrap();
                assert_eq!((frame.header, &frame.body[..]), (*header, body));
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn truncated_frames_need_more_bytes_until_complete() {
        let header = FrameHeader::request(0x0205, 42);
        let full = frame_bytes(&header, &[5u8; 1000]);
        for len in 0..full.len() {
            assert_eq!(decode(&full[..len]), Ok(None), "prefix of {len} bytes");
        }
        // Byte by byte through the incremental decoder, with a second frame behind it.
        let mut decoder = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut stream = full.to_vec();
        stream.extend_from_slice(&frame_bytes(&FrameHeader::request(3, 43), b""));
        let mut frames = Vec::new();
        for byte in stream {
            buf.extend_from_slice(&[byte]);
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].body.len(), 1000);
        assert_eq!(frames[1].header.request_id, 43);
        assert!(decoder.pending_header().is_none());
    }

    type Tamper = Box<dyn Fn(&mut BytesMut)>;

    #[test]
    fn every_decode_error() {
        let valid = frame_bytes(&FrameHeader::request(0x0203, 9), b"body");
        let cases: Vec<(Tamper, DecodeError)> = vec![
            (
                Box::new(|b| b[0] = b'G'),
                DecodeError::BadMagic {
                    found: b"GSP1".to_vec(),
                },
            ),
            (
                Box::new(|b| b[4] = 2),
                DecodeError::BadVersion { version: 2 },
            ),
            (
                Box::new(|b| b[8] ^= 1),
                DecodeError::BadHeaderChecksum {
                    stored: le_u32(&valid, 28),
                    computed: {
                        let mut h = valid[..28].to_vec();
                        h[8] ^= 1;
                        crc32c::crc32c(&h)
                    },
                },
            ),
            (
                Box::new(|b| {
                    b[OFFSET_FLAGS] = 0x10;
                    reseal(b)
                }),
                DecodeError::UnknownFlags { flags: 0x10 },
            ),
            (
                Box::new(|b| {
                    b[OFFSET_FLAGS] = 0x0A;
                    reseal(b)
                }),
                DecodeError::MisplacedPrincipal { flags: 0x0A },
            ),
            (
                Box::new(|b| {
                    b[OFFSET_RESERVED] = 1;
                    reseal(b)
                }),
                DecodeError::ReservedNotZero { reserved: 1 },
            ),
            (
                Box::new(|b| {
                    b[OFFSET_STATUS] = 1;
                    reseal(b)
                }),
                DecodeError::StatusInRequest { status: 1 },
            ),
            (
                Box::new(|b| {
                    let len = (FRAME_BODY_BYTES_MAX as u32 + 1).to_le_bytes();
                    b[OFFSET_BODY_LEN..OFFSET_BODY_LEN + 4].copy_from_slice(&len);
                    reseal(b)
                }),
                DecodeError::BodyTooLarge {
                    len: FRAME_BODY_BYTES_MAX + 1,
                    max: FRAME_BODY_BYTES_MAX,
                },
            ),
            (
                Box::new(|b| b[HEADER_BYTES] ^= 0x20),
                DecodeError::BadBodyChecksum {
                    stored: crc32c::crc32c(b"body"),
                    computed: crc32c::crc32c(b"Body"),
                },
            ),
        ];
        for (tamper, expected) in cases {
            let mut buf = valid.clone();
            tamper(&mut buf);
            assert_eq!(decode(&buf), Err(expected.clone()));
            let mut decoder = FrameDecoder::new();
            assert_eq!(decoder.decode(&mut buf.clone()), Err(expected.clone()));
            // The decoder stays failed: the stream is out of sync.
            let mut next = valid.clone();
            assert_eq!(decoder.decode(&mut next), Err(expected.clone()));
            let trusted = !matches!(
                expected,
                DecodeError::BadMagic { .. }
                    | DecodeError::BadVersion { .. }
                    | DecodeError::BadHeaderChecksum { .. }
            );
            assert_eq!(expected.header_trusted(), trusted);
        }
    }

    #[test]
    fn foreign_protocols_fail_on_their_first_bytes() {
        assert!(matches!(decode(b"G"), Err(DecodeError::BadMagic { .. })));
        assert!(matches!(
            decode(b"GET / HTTP/1.1\r\n"),
            Err(DecodeError::BadMagic { .. })
        ));
        assert_eq!(decode(b"RSP"), Ok(None));
        assert_eq!(
            decode(b"RSP1\x02"),
            Err(DecodeError::BadVersion { version: 2 })
        );
        assert_eq!(decode(b""), Ok(None));
    }

    #[test]
    fn oversized_body_is_rejected_before_it_arrives() {
        let mut buf = frame_bytes(&FrameHeader::request(1, 1), b"");
        let len = u32::MAX.to_le_bytes();
        buf[OFFSET_BODY_LEN..OFFSET_BODY_LEN + 4].copy_from_slice(&len);
        reseal(&mut buf);
        let expected = DecodeError::BodyTooLarge {
            len: u32::MAX as usize,
            max: FRAME_BODY_BYTES_MAX,
        };
        assert_eq!(FrameDecoder::new().decode(&mut buf), Err(expected));
    }

    #[test]
    fn error_frames_carry_a_bounded_message() {
        let mut out = BytesMut::new();
        let long = "é".repeat(3000); // 6000 bytes, cut at a character boundary
        encode_error_frame(0x0202, 5, Status::NoSuchKey, &long, &mut out);
        let frame = decode(&out).unwrap().unwrap();
        assert_eq!(frame.header.status(), Ok(Status::NoSuchKey));
        let body = crate::ErrorBody::decode(frame.body).unwrap();
        assert_eq!(
            body.message.len(),
            crate::constants::ERROR_MESSAGE_BYTES_MAX
        );

        out.clear();
        let (opcode, id) = (CONNECTION_OPCODE, CONNECTION_REQUEST_ID);
        encode_error_frame(
            opcode,
            id,
            Status::BadRequest,
            "bad body checksum",
            &mut out,
        );
        let frame = decode(&out).unwrap().unwrap();
        assert_eq!((frame.header.opcode, frame.header.request_id), (0, 0));
        assert!(frame.header.is_response());
    }

    #[test]
    fn message_frames_are_encoded_in_place() {
        let ping = crate::Hello {
            access_key_id: "AK".into(),
            client_nonce: [3; 32],
        };
        let mut out = BytesMut::from(&b"prefix"[..]);
        let header = FrameHeader::request(0x0001, 1);
        encode_message_frame(&header, &ping, &mut out).unwrap();
        let frame = decode(&out[6..]).unwrap().unwrap();
        assert_eq!(crate::Hello::decode(frame.body), Ok(ping));
        // A failed encode leaves the buffer as it was.
        let bad = crate::Hello {
            access_key_id: String::new(),
            client_nonce: [0; 32],
        };
        assert!(encode_message_frame(&header, &bad, &mut out).is_err());
        assert_eq!(out.len(), 6 + HEADER_BYTES + 2 + 2 + 32);
    }

    /// Random bytes, and valid frames with random damage (resealed half of the time so the
    /// damage reaches past the header checksum), never make the decoders panic.
    #[test]
    fn random_input_never_panics() {
        let mut rng = XorShift::new(0x5EED_0FF4_A3E5);
        let valid = frame_bytes(&FrameHeader::request(0x0201, 77).more(true), &[1u8; 300]);
        for round in 0..20_000 {
            let mut buf = if round % 2 == 0 {
                let len = rng.below(200) as usize;
                BytesMut::from(&rng.bytes(len)[..])
            } else {
                let mut b = valid.clone();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(b.len() as u64) as usize;
                    b[i] = rng.next() as u8;
                }
                if rng.below(2) == 0 {
                    reseal(&mut b);
                }
                b.truncate(rng.below(b.len() as u64 + 1) as usize);
                b
            };
            let _ = decode(&buf);
            let _ = decode_header(&buf);
            let mut decoder = FrameDecoder::new();
            let mut fed = BytesMut::new();
            while !buf.is_empty() {
                let n = (1 + rng.below(64) as usize).min(buf.len());
                fed.extend_from_slice(&buf.split_to(n));
                if decoder.decode(&mut fed).is_err() {
                    break;
                }
            }
        }
    }
}
