//! Session messages: Hello → Challenge, Auth → Empty, Ping → Empty.
//!
//! The proof is `HMAC-SHA256(secret, AUTH_PROOF_CONTEXT || client_nonce || server_nonce ||
//! access_key_id)`; this crate carries it and never computes it.

use crate::codec::{Body, BodyError, Empty, Field, Reader, Request, Writer};
use crate::constants::{NONCE_BYTES, PROOF_BYTES};
use crate::Opcode;

/// Hello (0x0001): the first request on every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub access_key_id: String,
    /// Fresh random bytes from the client, so a recorded proof cannot be replayed.
    pub client_nonce: [u8; NONCE_BYTES],
}

/// The response to Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Fresh random bytes from the server, so a recorded proof cannot be replayed.
    pub server_nonce: [u8; NONCE_BYTES],
    /// How many requests the client may have in flight on this connection; more are
    /// answered with `Busy`.
    pub requests_in_flight_max: u32,
    /// Where the connection is served, so that a client can send each object request on a
    /// connection of the core that owns the object ([`crate::routing`]).
    pub route: Route,
}

/// The server core that serves a connection and how objects map to cores: object
/// (bucket, key) lives in partition `routing::partition_of(bucket, key, partitions)`,
/// served by core `partition % executors`. A request sent to another core is still
/// served, one hop between cores later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Route {
    pub executor: u16,
    pub executors: u16,
    pub partitions: u16,
}

impl Route {
    /// The core that owns (bucket, key); `None` when the route is unknown (zero counts).
    pub fn owner(&self, bucket: &str, key: &str) -> Option<u16> {
        if self.executors == 0 || self.partitions == 0 {
            return None;
        }
        let partition = crate::routing::partition_of(bucket, key, self.partitions as usize);
        Some((partition % self.executors as usize) as u16)
    }
}

/// Auth (0x0002): the proof of the secret. Response: [`Empty`] or `AccessDenied`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub proof: [u8; PROOF_BYTES],
}

/// Ping (0x0003). Response: [`Empty`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ping;

impl Body for Hello {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::AccessKeyId, &self.access_key_id)?;
        w.bytes(&self.client_nonce);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(Hello {
            access_key_id: r.string(Field::AccessKeyId)?,
            client_nonce: r.array()?,
        })
    }
}

impl Body for Challenge {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.bytes(&self.server_nonce);
        w.u32(self.requests_in_flight_max);
        w.u16(self.route.executor);
        w.u16(self.route.executors);
        w.u16(self.route.partitions);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(Challenge {
            server_nonce: r.array()?,
            requests_in_flight_max: r.u32()?,
            route: Route {
                executor: r.u16()?,
                executors: r.u16()?,
                partitions: r.u16()?,
            },
        })
    }
}

impl Body for Auth {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.bytes(&self.proof);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(Auth { proof: r.array()? })
    }
}

impl Body for Ping {
    fn write(&self, _: &mut Writer<'_>) -> Result<(), BodyError> {
        Ok(())
    }
    fn read(_: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(Ping)
    }
}

impl Request for Hello {
    const OPCODE: Opcode = Opcode::Hello;
    type Response = Challenge;
}
impl Request for Auth {
    const OPCODE: Opcode = Opcode::Auth;
    type Response = Empty;
}
impl Request for Ping {
    const OPCODE: Opcode = Opcode::Ping;
    type Response = Empty;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::round_trip;

    #[test]
    fn round_trips() {
        let hello = Hello {
            access_key_id: "LTAI5tExample".into(),
            client_nonce: [7; 32],
        };
        let bytes = round_trip(&hello);
        assert_eq!(bytes.len(), 2 + 13 + 32);
        round_trip(&Challenge {
            server_nonce: [9; 32],
            requests_in_flight_max: 256,
            route: Route {
                executor: 1,
                executors: 2,
                partitions: 4,
            },
        });
        let route = Route {
            executor: 0,
            executors: 2,
            partitions: 4,
        };
        let owner = route.owner("b", "k").unwrap();
        assert_eq!(
            owner as usize,
            crate::routing::partition_of("b", "k", 4) % 2
        );
        assert_eq!(Route::default().owner("b", "k"), None);
        round_trip(&Auth { proof: [0xA5; 32] });
        assert!(Ping.encode(&mut Default::default()).is_ok());
        assert_eq!(Ping::decode(b""), Ok(Ping));
        assert_eq!(Empty::decode(b""), Ok(Empty));
        assert!(Empty::decode(b"x").is_err());
    }

    #[test]
    fn access_key_id_bounds() {
        let empty = Hello {
            access_key_id: String::new(),
            client_nonce: [0; 32],
        };
        let mut out = bytes::BytesMut::new();
        assert!(matches!(
            empty.encode(&mut out),
            Err(BodyError::BadLength {
                field: Field::AccessKeyId,
                len: 0,
                ..
            })
        ));
        let long = Hello {
            access_key_id: "k".repeat(129),
            ..empty
        };
        assert!(long.encode(&mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn opcodes() {
        assert_eq!(Hello::OPCODE, Opcode::Hello);
        assert_eq!(Auth::OPCODE, Opcode::Auth);
        assert_eq!(Ping::OPCODE, Opcode::Ping);
    }
}
