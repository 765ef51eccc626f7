//! Opcodes: one per operation, grouped in families by their high byte.
//!
//! The header carries the opcode as a raw `u16`, so an unknown opcode is not a frame error:
//! the server answers it with `Status::UnknownOpcode` and the connection stays usable.

/// Family start codes. A family owns `start..start + 0x100`.
pub const OPCODE_FAMILY_SESSION: u16 = 0x0000;
pub const OPCODE_FAMILY_BUCKET: u16 = 0x0100;
pub const OPCODE_FAMILY_OBJECT: u16 = 0x0200;
/// Reserved: InitiateMultipartUpload, UploadPart, CompleteMultipartUpload, ListParts….
pub const OPCODE_FAMILY_MULTIPART: u16 = 0x0300;
/// Reserved: AppendObject.
pub const OPCODE_FAMILY_APPEND: u16 = 0x0400;
/// Reserved: CopyObject, UploadPartCopy.
pub const OPCODE_FAMILY_COPY: u16 = 0x0500;
/// Bucket versioning, version listings, version-addressed GET/HEAD/DELETE.
pub const OPCODE_FAMILY_VERSIONING: u16 = 0x0600;
/// Reserved: bucket inventory configuration and reports.
pub const OPCODE_FAMILY_INVENTORY: u16 = 0x0700;
/// Administration: status, scrub, device replacement, users and keys.
pub const OPCODE_FAMILY_ADMIN: u16 = 0x0F00;

macro_rules! opcodes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, )*) => {
        /// An operation (`u16` on the wire, header offset 6).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Opcode {
            $( $(#[$doc])* $name = $code, )*
        }

        impl Opcode {
            /// Every opcode, in code order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name,)*];

            /// The opcode's name as written in PROTOCOL.md.
            pub fn name(self) -> &'static str {
                match self { $(Opcode::$name => stringify!($name),)* }
            }
        }

        impl TryFrom<u16> for Opcode {
            type Error = u16;
            /// Returns the unknown code as the error.
            fn try_from(code: u16) -> Result<Self, u16> {
                match code {
                    $($code => Ok(Opcode::$name),)*
                    other => Err(other),
                }
            }
        }
    };
}

opcodes! {
    /// Client → server: access key id and client nonce. Response: `Challenge`.
    Hello = 0x0001,
    /// Client → server: the HMAC proof. Response: empty (`Ok`) or `AccessDenied`.
    Auth = 0x0002,
    /// Liveness check. Request and response are empty.
    Ping = 0x0003,

    /// Create a bucket. Response: empty.
    CreateBucket = 0x0101,
    /// Delete an empty bucket. Response: empty.
    DeleteBucket = 0x0102,
    /// Response: `BucketInfo`.
    HeadBucket = 0x0103,
    /// Response: `BucketList` (a page of `BucketInfo`).
    ListBuckets = 0x0104,
    /// Change a bucket's ACL. Response: empty.
    PutBucketAcl = 0x0105,
    /// The bucket's record for its owner (ACL, owner, storage class). Response: `BucketInfo`.
    GetBucketInfo = 0x0106,

    /// Streaming request: message with MORE, then CHUNK frames. Response: `ObjectMeta`.
    PutObject = 0x0201,
    /// Streaming response: `GetObjectResponse` with MORE, then CHUNK frames.
    GetObject = 0x0202,
    /// Response: `ObjectMeta`.
    HeadObject = 0x0203,
    /// Response: empty (also when the key did not exist, as OSS).
    DeleteObject = 0x0204,
    /// Response: `ListPage`.
    ListObjects = 0x0205,
    /// Response: `DeleteObjectsResponse` (one status per key).
    DeleteObjects = 0x0206,
    /// Set the ACL of an object version. Response: empty.
    PutObjectAcl = 0x0207,
    /// Response: `ObjectAclResponse`.
    GetObjectAcl = 0x0208,

    /// Enable or suspend versioning on a bucket. Response: empty.
    PutBucketVersioning = 0x0601,
    /// Response: `BucketVersioning`.
    GetBucketVersioning = 0x0602,
    /// Response: `VersionPage`.
    ListObjectVersions = 0x0603,
    /// GetObject of a version. Streaming response, as GetObject.
    GetObjectVersion = 0x0604,
    /// Response: `ObjectMeta`.
    HeadObjectVersion = 0x0605,
    /// Response: `DeleteVersionResult`.
    DeleteObjectVersion = 0x0606,

    /// Daemon status: request empty or JSON, response JSON.
    AdminStatus = 0x0F01,
    /// Start (or resume) a scrub. Request empty or JSON options, response JSON.
    ScrubStart = 0x0F02,
    /// Pause a running scrub. Request empty, response JSON.
    ScrubPause = 0x0F03,
    /// Scrub progress. Request empty, response JSON.
    ScrubStatus = 0x0F04,
    /// Replace a device and rebuild it. Request JSON `{"old", "new"}`, response JSON.
    DeviceReplace = 0x0F05,

    /// Create a user. Request `UserCreate`, response `UserInfo`.
    UserCreate = 0x0F10,
    /// Every user. Request empty, response `UserList`.
    UserList = 0x0F11,
    /// Delete a user who owns no bucket, and its keys. Response: empty.
    UserDelete = 0x0F12,
    /// A new access key for a user. Response `NewAccessKey` (the secret, shown once).
    KeyCreate = 0x0F13,
    /// Access keys, of one user or all. Response `KeyList` (no secrets).
    KeyList = 0x0F14,
    /// Delete an access key. Response: empty.
    KeyDelete = 0x0F15,
    /// An access key's user and secret, for signature checks. Response `KeyLookupResponse`.
    KeyLookup = 0x0F16,
}

impl Opcode {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The family start code (`code & 0xFF00`).
    pub fn family(self) -> u16 {
        self.code() & 0xFF00
    }

    /// Whether the opcode may be sent before authentication succeeded.
    pub fn allowed_before_auth(self) -> bool {
        matches!(self, Opcode::Hello | Opcode::Auth)
    }

    /// Whether the request message is followed by CHUNK frames carrying a body.
    pub fn request_has_body(self) -> bool {
        matches!(self, Opcode::PutObject)
    }

    /// Whether a successful response message is followed by CHUNK frames.
    pub fn response_has_body(self) -> bool {
        matches!(self, Opcode::GetObject | Opcode::GetObjectVersion)
    }
}
