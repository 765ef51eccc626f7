//! Users and access keys (admin family, opcodes 0x0F10..=0x0F16). Unlike status and
//! scrub, these bodies use the binary message encoding: their clients decode typed records.
//!
//! ```text
//! UserInfo        user_id string, display_name string, created_ms u64, admin bool,
//!                 access_key_ids Vec<string>
//! AccessKeyInfo   access_key_id string, user_id string, display_name string, created_ms u64
//! KeyInfo         user_id string, display_name string, secret_access_key string
//!
//! UserCreate  display_name string                → UserInfo
//! UserList    (empty)                            → Users: users Vec<UserInfo>
//! UserDelete  display_name string                → Empty
//! KeyCreate   display_name string                → NewAccessKey: access_key_id string,
//!                                                  secret_access_key string, user_id string,
//!                                                  display_name string
//! KeyList     display_name Option<string>        → AccessKeys: keys Vec<AccessKeyInfo>
//! KeyDelete   access_key_id string               → Empty
//! KeyLookup   access_key_id string               → KeyLookupResponse: key Option<KeyInfo>
//! ```
//!
//! Every one is for administrators only. Secrets appear in exactly two responses
//! (NewAccessKey once, KeyLookup for signature checks) and never in a `Debug` output.

use crate::codec::{write_vec, Body, BodyError, Empty, Field, Reader, Request, Writer};
use crate::Opcode;

/// A user, as UserCreate and UserList return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The OSS-style owner id: a decimal string, the `owner` of the user's buckets.
    pub user_id: String,
    pub display_name: String,
    pub created_ms: u64,
    /// Administrators (the built-in `root`) may do every operation.
    pub admin: bool,
    pub access_key_ids: Vec<String>,
}

impl Body for UserInfo {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::UserId, &self.user_id)?;
        w.string(Field::DisplayName, &self.display_name)?;
        w.u64(self.created_ms);
        w.bool(self.admin);
        write_vec(w, Field::AccessKeys, &self.access_key_ids, |w, id| {
            w.string(Field::AccessKeyId, id)
        })
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(UserInfo {
            user_id: r.string(Field::UserId)?,
            display_name: r.string(Field::DisplayName)?,
            created_ms: r.u64()?,
            admin: r.bool()?,
            access_key_ids: r.vec(Field::AccessKeys, |r| r.string(Field::AccessKeyId))?,
        })
    }
}

/// An access key without its secret, as KeyList returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyInfo {
    pub access_key_id: String,
    pub user_id: String,
    pub display_name: String,
    pub created_ms: u64,
}

impl Body for AccessKeyInfo {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::AccessKeyId, &self.access_key_id)?;
        w.string(Field::UserId, &self.user_id)?;
        w.string(Field::DisplayName, &self.display_name)?;
        w.u64(self.created_ms);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(AccessKeyInfo {
            access_key_id: r.string(Field::AccessKeyId)?,
            user_id: r.string(Field::UserId)?,
            display_name: r.string(Field::DisplayName)?,
            created_ms: r.u64()?,
        })
    }
}

/// What KeyLookup finds: the key's user and its secret, to verify a signature with.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub user_id: String,
    pub display_name: String,
    pub secret_access_key: String,
}

/// Never print the secret by accident.
impl std::fmt::Debug for KeyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyInfo")
            .field("user_id", &self.user_id)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

impl Body for KeyInfo {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::UserId, &self.user_id)?;
        w.string(Field::DisplayName, &self.display_name)?;
        w.string(Field::SecretAccessKey, &self.secret_access_key)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(KeyInfo {
            user_id: r.string(Field::UserId)?,
            display_name: r.string(Field::DisplayName)?,
            secret_access_key: r.string(Field::SecretAccessKey)?,
        })
    }
}

/// A key KeyCreate just made: the only time its secret is sent outside KeyLookup.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub user_id: String,
    pub display_name: String,
}

/// Never print the secret by accident.
impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("user_id", &self.user_id)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

impl Body for NewAccessKey {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::AccessKeyId, &self.access_key_id)?;
        w.string(Field::SecretAccessKey, &self.secret_access_key)?;
        w.string(Field::UserId, &self.user_id)?;
        w.string(Field::DisplayName, &self.display_name)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(NewAccessKey {
            access_key_id: r.string(Field::AccessKeyId)?,
            secret_access_key: r.string(Field::SecretAccessKey)?,
            user_id: r.string(Field::UserId)?,
            display_name: r.string(Field::DisplayName)?,
        })
    }
}

string_request!(
    /// UserCreate (0x0F10). Response: [`UserInfo`].
    UserCreate { display_name: String = DisplayName },
    Opcode::UserCreate, UserInfo
);
string_request!(
    /// UserDelete (0x0F12): refused with `UserOwnsBuckets` while the user owns buckets;
    /// deletes the user's keys with it. Response: [`Empty`].
    UserDelete { display_name: String = DisplayName },
    Opcode::UserDelete, Empty
);
string_request!(
    /// KeyCreate (0x0F13): a new key for the user. Response: [`NewAccessKey`].
    KeyCreate { display_name: String = DisplayName },
    Opcode::KeyCreate, NewAccessKey
);
string_request!(
    /// KeyDelete (0x0F15). Response: [`Empty`].
    KeyDelete { access_key_id: String = AccessKeyId },
    Opcode::KeyDelete, Empty
);
string_request!(
    /// KeyLookup (0x0F16). Response: [`KeyLookupResponse`].
    KeyLookup { access_key_id: String = AccessKeyId },
    Opcode::KeyLookup, KeyLookupResponse
);

/// UserList (0x0F11). Response: [`Users`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserList;

impl Body for UserList {
    fn write(&self, _: &mut Writer<'_>) -> Result<(), BodyError> {
        Ok(())
    }
    fn read(_: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(UserList)
    }
}

impl Request for UserList {
    const OPCODE: Opcode = Opcode::UserList;
    type Response = Users;
}

/// Every user, in display-name order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Users {
    pub users: Vec<UserInfo>,
}

impl Body for Users {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        write_vec(w, Field::Users, &self.users, |w, u| u.write(w))
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(Users {
            users: r.vec(Field::Users, UserInfo::read)?,
        })
    }
}

/// KeyList (0x0F14): the keys of one user, or of every user. Response: [`AccessKeys`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyList {
    pub display_name: Option<String>,
}

impl Body for KeyList {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.opt_string(Field::DisplayName, self.display_name.as_deref())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(KeyList {
            display_name: r.opt_string(Field::DisplayName)?,
        })
    }
}

impl Request for KeyList {
    const OPCODE: Opcode = Opcode::KeyList;
    type Response = AccessKeys;
}

/// Access keys, in access key id order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessKeys {
    pub keys: Vec<AccessKeyInfo>,
}

impl Body for AccessKeys {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        write_vec(w, Field::AccessKeys, &self.keys, |w, k| k.write(w))
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(AccessKeys {
            keys: r.vec(Field::AccessKeys, AccessKeyInfo::read)?,
        })
    }
}

/// The answer to KeyLookup: `None` for an unknown (or deleted) key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyLookupResponse {
    pub key: Option<KeyInfo>,
}

impl Body for KeyLookupResponse {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.tag(self.key.is_some());
        self.key.as_ref().map_or(Ok(()), |k| k.write(w))
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let key = match r.tag()? {
            true => Some(KeyInfo::read(r)?),
            false => None,
        };
        Ok(KeyLookupResponse { key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn round_trip<T: Body + PartialEq + std::fmt::Debug>(message: T) {
        let mut out = BytesMut::new();
        message.encode(&mut out).unwrap();
        assert_eq!(T::decode(&out).unwrap(), message);
        out.extend_from_slice(b"x");
        assert!(matches!(
            T::decode(&out),
            Err(BodyError::TrailingBytes { count: 1 })
        ));
    }

    fn user() -> UserInfo {
        UserInfo {
            user_id: "1234567890123456".into(),
            display_name: "alice".into(),
            created_ms: 1_700_000_000_000,
            admin: false,
            access_key_ids: vec!["RSAAAAAAAAAAAAAAAAAA".into()],
        }
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(user());
        round_trip(Users {
            users: vec![user(), user()],
        });
        round_trip(UserCreate {
            display_name: "bob".into(),
        });
        round_trip(KeyList { display_name: None });
        round_trip(KeyList {
            display_name: Some("bob".into()),
        });
        round_trip(AccessKeys {
            keys: vec![AccessKeyInfo {
                access_key_id: "RSAAAAAAAAAAAAAAAAAA".into(),
                user_id: "1".into(),
                display_name: "bob".into(),
                created_ms: 5,
            }],
        });
        round_trip(KeyLookupResponse { key: None });
        round_trip(KeyLookupResponse {
            key: Some(KeyInfo {
                user_id: "1".into(),
                display_name: "bob".into(),
                secret_access_key: "s3cr3t".into(),
            }),
        });
        round_trip(NewAccessKey {
            access_key_id: "RSAAAAAAAAAAAAAAAAAA".into(),
            secret_access_key: "s3cr3t".into(),
            user_id: "1".into(),
            display_name: "bob".into(),
        });
    }

    #[test]
    fn bad_names_are_invalid_user_names_and_secrets_stay_out_of_debug() {
        let long = UserCreate {
            display_name: "a".repeat(65),
        };
        let err = long.encode(&mut BytesMut::new()).unwrap_err();
        assert_eq!(err.status(), crate::Status::InvalidUserName);
        assert_eq!(
            UserCreate::decode(&[0, 0]).unwrap_err().status(),
            crate::Status::InvalidUserName
        );
        let info = KeyInfo {
            user_id: "1".into(),
            display_name: "bob".into(),
            secret_access_key: "topsecretvalue".into(),
        };
        assert!(!format!("{info:?}").contains("topsecretvalue"));
        assert_eq!(UserList::OPCODE, Opcode::UserList);
        assert_eq!(KeyLookup::OPCODE, Opcode::KeyLookup);
    }
}
