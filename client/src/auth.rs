//! The session handshake: Hello → Challenge, Auth → Ok (PROTOCOL.md, "Connection state
//! machine"). It runs on the raw socket halves before the connection's reader and writer
//! tasks start, since nothing else may be in flight until it succeeds.

use bytes::BytesMut;
use hmac::{Hmac, Mac};
use ringstore_proto::constants::{AUTH_PROOF_CONTEXT, NONCE_BYTES, PROOF_BYTES};
use ringstore_proto::{
    Auth, Body, Challenge, Empty, Frame, FrameDecoder, FrameHeader, Hello, Request, Status,
};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Error;

/// The request id of Hello; Auth uses the next one. Ordinary requests number after them.
pub(crate) const HELLO_REQUEST_ID: u64 = 1;
pub(crate) const AUTH_REQUEST_ID: u64 = 2;
/// The first request id after the handshake.
pub(crate) const FIRST_REQUEST_ID: u64 = 3;

/// `HMAC-SHA256(secret, "ringstore-auth-v1" || client_nonce || server_nonce ||
/// access_key_id)`.
pub fn auth_proof(
    secret_access_key: &str,
    access_key_id: &str,
    client_nonce: &[u8; NONCE_BYTES],
    server_nonce: &[u8; NONCE_BYTES],
) -> [u8; PROOF_BYTES] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret_access_key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(AUTH_PROOF_CONTEXT);
    mac.update(client_nonce);
    mac.update(server_nonce);
    mac.update(access_key_id.as_bytes());
    mac.finalize().into_bytes().into()
}

/// What the handshake learned from the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    pub requests_in_flight_max: u32,
    pub route: ringstore_proto::Route,
}

/// Runs Hello and Auth on a fresh stream. `buf` and `decoder` carry any bytes read past the
/// Auth response over to the connection's reader task.
pub(crate) async fn handshake<R, W>(
    reader: &mut R,
    writer: &mut W,
    buf: &mut BytesMut,
    decoder: &mut FrameDecoder,
    access_key_id: &str,
    secret_access_key: &str,
) -> Result<Session, Error>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let client_nonce: [u8; NONCE_BYTES] = rand::random();
    let hello = Hello {
        access_key_id: access_key_id.to_owned(),
        client_nonce,
    };
    send(writer, HELLO_REQUEST_ID, &hello).await?;
    let frame = read_frame(reader, buf, decoder).await?;
    let challenge: Challenge = response::<Hello>(&frame, HELLO_REQUEST_ID)?;
    if challenge.requests_in_flight_max == 0 {
        return Err(Error::Protocol("server allows 0 requests in flight".into()));
    }
    let proof = auth_proof(
        secret_access_key,
        access_key_id,
        &client_nonce,
        &challenge.server_nonce,
    );
    send(writer, AUTH_REQUEST_ID, &Auth { proof }).await?;
    let frame = read_frame(reader, buf, decoder).await?;
    let Empty = response::<Auth>(&frame, AUTH_REQUEST_ID)?;
    Ok(Session {
        requests_in_flight_max: challenge.requests_in_flight_max,
        route: challenge.route,
    })
}

async fn send<W: AsyncWrite + Unpin, R: Request>(
    writer: &mut W,
    request_id: u64,
    request: &R,
) -> Result<(), Error> {
    let mut out = BytesMut::new();
    let header = FrameHeader::request(R::OPCODE.code(), request_id);
    ringstore_proto::encode_message_frame(&header, request, &mut out)?;
    writer.write_all(&out).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads until one whole frame is decoded; end of stream is [`Error::Closed`].
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    decoder: &mut FrameDecoder,
) -> Result<Frame, Error> {
    loop {
        if let Some(frame) = decoder.decode(buf)? {
            return Ok(frame);
        }
        if reader.read_buf(buf).await? == 0 {
            return Err(Error::Closed);
        }
    }
}

/// Checks a handshake response and decodes its body. A refusal during the handshake is an
/// [`Error::Auth`], whatever the status, because the server closes the connection after it.
fn response<R: Request>(frame: &Frame, request_id: u64) -> Result<R::Response, Error> {
    let h = &frame.header;
    let status = h.status;
    if h.request_id != request_id || h.is_chunk() || h.has_more() || !h.is_response() {
        return Err(Error::Protocol(format!(
            "unexpected frame during the handshake: {h:?}"
        )));
    }
    if status != Status::Ok.code() {
        return Err(match Error::from_status(status, &frame.body) {
            Error::Status { status, message } => Error::Auth(format!("{status}: {message}")),
            other => other,
        });
    }
    if h.opcode != R::OPCODE.code() {
        return Err(Error::Protocol(format!(
            "handshake response has opcode 0x{:04x}, expected {}",
            h.opcode,
            R::OPCODE.name()
        )));
    }
    R::Response::decode(&frame.body).map_err(|e| bad_response(R::OPCODE.name(), e))
}

/// A response body that does not decode is the server's fault, not the request's.
pub(crate) fn bad_response(what: &str, e: ringstore_proto::BodyError) -> Error {
    Error::Protocol(format!("malformed {what} response: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The proof recomputed independently, from the specification's formula, with one
    /// concatenated message rather than incremental updates.
    #[test]
    fn proof_matches_an_independent_hmac() {
        let (secret, key_id) = ("s3cr3t/KEY+value", "LTAI5tExampleKey");
        let client_nonce: [u8; 32] = std::array::from_fn(|i| i as u8);
        let server_nonce: [u8; 32] = std::array::from_fn(|i| 0xFF - i as u8);
        let mut message = b"ringstore-auth-v1".to_vec();
        message.extend_from_slice(&client_nonce);
        message.extend_from_slice(&server_nonce);
        message.extend_from_slice(key_id.as_bytes());
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&message);
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        let proof = auth_proof(secret, key_id, &client_nonce, &server_nonce);
        assert_eq!(proof, expected);
        // Every input matters: each nonce, the key id and the secret.
        assert_ne!(
            proof,
            auth_proof(secret, key_id, &server_nonce, &client_nonce)
        );
        assert_ne!(
            proof,
            auth_proof(secret, "other", &client_nonce, &server_nonce)
        );
        assert_ne!(proof, auth_proof("x", key_id, &client_nonce, &server_nonce));
    }

    /// RFC 4231 test case 2 through the same HMAC construction, so a wrong crate wiring
    /// (for example SHA-1 or a truncated tag) cannot pass both tests.
    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let tag = mac.finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
