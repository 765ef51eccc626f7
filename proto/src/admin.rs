//! Admin messages (opcodes 0x0Fxx): bodies are UTF-8 JSON text filling the whole body, or
//! empty. JSON keeps the admin surface easy to extend without protocol versions; this
//! crate checks only the length and the UTF-8, the server parses the JSON.

use crate::codec::{Body, BodyError, Field, Reader, Request, Writer};
use crate::status::{check_raw, read_raw_string};
use crate::Opcode;

/// The response to every admin request: a JSON document (for example the state of each
/// background worker: busy, throttled or idle).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminJson {
    pub json: String,
}

impl Body for AdminJson {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        write_json(w, &self.json)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(AdminJson {
            json: read_raw_string(r, Field::Json)?,
        })
    }
}

fn write_json(w: &mut Writer<'_>, json: &str) -> Result<(), BodyError> {
    check_raw(Field::Json, json.len())?;
    w.bytes(json.as_bytes());
    Ok(())
}

/// Declares an admin request: an optional JSON argument (empty string: none).
macro_rules! admin_request {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// JSON options, or empty.
            pub json: String,
        }

        impl Body for $name {
            fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
                write_json(w, &self.json)
            }
            fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
                Ok($name { json: read_raw_string(r, Field::Json)? })
            }
        }

        impl Request for $name {
            const OPCODE: Opcode = Opcode::$name;
            type Response = AdminJson;
        }
    };
}

admin_request!(
    /// AdminStatus (0x0F01): the daemon's devices, cores and background workers.
    AdminStatus
);
admin_request!(
    /// ScrubStart (0x0F02): start or resume a scrub; options such as a rate limit as JSON.
    ScrubStart
);
admin_request!(
    /// ScrubPause (0x0F03): pause a running scrub at its next yield point.
    ScrubPause
);
admin_request!(
    /// ScrubStatus (0x0F04): scrub progress (position, bytes verified, errors repaired).
    ScrubStatus
);
admin_request!(
    /// DeviceReplace (0x0F05): `{"old": index or path, "new": path}`; formats the new
    /// device into the set and starts rebuilding it.
    DeviceReplace
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::ADMIN_JSON_BYTES_MAX;
    use bytes::BytesMut;

    #[test]
    fn round_trips() {
        let json = r#"{"scrub":{"state":"throttled","bytes_verified":123}}"#;
        for message in [AdminJson { json: json.into() }, AdminJson::default()] {
            let mut out = BytesMut::new();
            message.encode(&mut out).unwrap();
            assert_eq!(&out[..], message.json.as_bytes());
            assert_eq!(AdminJson::decode(&out), Ok(message));
        }
        assert_eq!(AdminStatus::decode(b""), Ok(AdminStatus::default()));
        assert_eq!(
            ScrubStart::decode(b"{\"rate_mb_s\":50}").unwrap().json,
            "{\"rate_mb_s\":50}"
        );
        assert_eq!(ScrubPause::OPCODE, Opcode::ScrubPause);
        assert_eq!(ScrubStatus::OPCODE, Opcode::ScrubStatus);
        assert_eq!(AdminStatus::OPCODE, Opcode::AdminStatus);
    }

    #[test]
    fn errors() {
        assert_eq!(
            ScrubStart::decode(b"\xff"),
            Err(BodyError::InvalidUtf8 { field: Field::Json })
        );
        let big = AdminJson {
            json: " ".repeat(ADMIN_JSON_BYTES_MAX + 1),
        };
        assert!(big.encode(&mut BytesMut::new()).is_err());
    }
}
