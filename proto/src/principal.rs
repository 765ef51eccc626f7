//! The principal prefix: a request an administrator key sends on behalf of someone else.
//!
//! A request message frame with the PRINCIPAL flag set carries, before its message, the
//! principal the server authorizes the request as:
//!
//! ```text
//! principal  u8 tag: 0 Anonymous
//!                  | 1 User, then user_id string (1..=USER_ID_BYTES_MAX)
//! then       the request message, exactly as without the flag
//! ```
//!
//! The HTTP adapter connects with an administrator key, checks each HTTP request's
//! signature itself (KeyLookup gives it the secret), then sends the binary request as the
//! signer (or as `Anonymous` for an unsigned request). The server refuses the flag from a
//! key that is not an administrator's (`AccessDenied`).

use bytes::{Bytes, BytesMut};

use crate::codec::{Body, BodyError, Field, Reader, Writer};
use crate::constants::{FRAME_BODY_BYTES_MAX, PRINCIPAL_PREFIX_BYTES_MAX};

const TAG_ANONYMOUS: u8 = 0;
const TAG_USER: u8 = 1;

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// An unauthenticated caller: only what public ACLs allow.
    Anonymous,
    /// The user with this user id (a bucket's `owner`).
    User(String),
}

impl Body for Principal {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        match self {
            Principal::Anonymous => w.u8(TAG_ANONYMOUS),
            Principal::User(user_id) => {
                w.u8(TAG_USER);
                w.string(Field::UserId, user_id)?;
            }
        }
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        match r.u8()? {
            TAG_ANONYMOUS => Ok(Principal::Anonymous),
            TAG_USER => Ok(Principal::User(r.string(Field::UserId)?)),
            value => Err(BodyError::InvalidValue {
                field: Field::Principal,
                value: value.into(),
            }),
        }
    }
}

/// Encodes `principal` then `message` as one request body (send it with PRINCIPAL set).
pub fn encode_with_principal(
    principal: &Principal,
    message: &impl Body,
    out: &mut BytesMut,
) -> Result<(), BodyError> {
    let start = out.len();
    let result = principal.write(&mut Writer::new(out)).and_then(|()| {
        debug_assert!(out.len() - start <= PRINCIPAL_PREFIX_BYTES_MAX);
        message.encode(out)
    });
    let len = out.len() - start;
    let result = match result {
        Ok(()) if len > FRAME_BODY_BYTES_MAX => Err(BodyError::BadLength {
            field: Field::Body,
            len,
            min: 0,
            max: FRAME_BODY_BYTES_MAX,
        }),
        other => other,
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Splits a PRINCIPAL request body into the principal and the message body after it.
pub fn split_principal(body: &Bytes) -> Result<(Principal, Bytes), BodyError> {
    let mut r = Reader::new(body);
    let principal = Principal::read(&mut r)?;
    let used = body.len() - r.remaining();
    Ok((principal, body.slice(used..)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::HeadBucket;

    #[test]
    fn prefix_round_trips_and_leaves_the_message_intact() {
        let message = HeadBucket {
            name: "photos".into(),
        };
        for principal in [
            Principal::Anonymous,
            Principal::User("1234567890123456".into()),
        ] {
            let mut out = BytesMut::new();
            encode_with_principal(&principal, &message, &mut out).unwrap();
            let (got, rest) = split_principal(&out.freeze()).unwrap();
            assert_eq!(got, principal);
            assert_eq!(HeadBucket::decode(&rest).unwrap(), message);
        }
    }

    #[test]
    fn bad_prefixes_are_typed_errors() {
        assert_eq!(
            split_principal(&Bytes::from_static(&[7])).unwrap_err(),
            BodyError::InvalidValue {
                field: Field::Principal,
                value: 7
            }
        );
        assert!(matches!(
            split_principal(&Bytes::from_static(&[1, 0, 0])),
            Err(BodyError::BadLength {
                field: Field::UserId,
                ..
            })
        ));
        assert!(matches!(
            split_principal(&Bytes::new()),
            Err(BodyError::Truncated { .. })
        ));
        let too_long = Principal::User("9".repeat(crate::constants::USER_ID_BYTES_MAX + 1));
        let mut out = BytesMut::new();
        assert!(encode_with_principal(&too_long, &crate::Empty, &mut out).is_err());
        assert!(out.is_empty());
    }
}
