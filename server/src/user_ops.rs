//! The user and key admin operations (opcodes 0x0F10..=0x0F16): decode, call `Users`,
//! answer. `authz` has already let only administrators through.

use ringstore_proto::{
    AccessKeys, Body, Empty, KeyCreate, KeyDelete, KeyList, KeyLookup, KeyLookupResponse,
    NewAccessKey, UserCreate, UserDelete, UserInfo, UserList, Users,
};

use crate::dispatch::Failure;
use crate::listener::ExecutorCtx;
use crate::users::UserError;

impl From<UserError> for Failure {
    fn from(e: UserError) -> Failure {
        Failure {
            status: e.status(),
            message: e.to_string(),
        }
    }
}

pub fn user_create(ctx: &ExecutorCtx, body: &[u8]) -> Result<UserInfo, Failure> {
    let m = UserCreate::decode(body)?;
    let user = ctx.users.create_user(&m.display_name)?;
    tracing::info!(user = %user.display_name, user_id = %user.user_id, "user created");
    Ok(user)
}

pub fn user_list(ctx: &ExecutorCtx, body: &[u8]) -> Result<Users, Failure> {
    UserList::decode(body)?;
    Ok(Users {
        users: ctx.users.list_users(),
    })
}

/// Refused while the user owns buckets. A bucket the user creates while this runs is the
/// one race left: it keeps its owner id, and administrators still manage it.
pub fn user_delete(ctx: &ExecutorCtx, body: &[u8]) -> Result<Empty, Failure> {
    let m = UserDelete::decode(body)?;
    let buckets = ctx.handle.list_buckets();
    let owned = |user_id: &str| buckets.iter().filter(|b| b.owner == user_id).count();
    ctx.users.delete_user(&m.display_name, owned)?;
    tracing::info!(user = %m.display_name, "user deleted with its keys");
    Ok(Empty)
}

pub fn key_create(ctx: &ExecutorCtx, body: &[u8]) -> Result<NewAccessKey, Failure> {
    let m = KeyCreate::decode(body)?;
    let key = ctx.users.create_key(&m.display_name)?;
    // The id only: secrets never reach a log.
    tracing::info!(user = %key.display_name, access_key_id = %key.access_key_id, "key created");
    Ok(key)
}

pub fn key_list(ctx: &ExecutorCtx, body: &[u8]) -> Result<AccessKeys, Failure> {
    let m = KeyList::decode(body)?;
    Ok(AccessKeys {
        keys: ctx.users.list_keys(m.display_name.as_deref())?,
    })
}

pub fn key_delete(ctx: &ExecutorCtx, body: &[u8]) -> Result<Empty, Failure> {
    let m = KeyDelete::decode(body)?;
    ctx.users.delete_key(&m.access_key_id)?;
    tracing::info!(access_key_id = %m.access_key_id, "key deleted");
    Ok(Empty)
}

pub fn key_lookup(ctx: &ExecutorCtx, body: &[u8]) -> Result<KeyLookupResponse, Failure> {
    let m = KeyLookup::decode(body)?;
    Ok(KeyLookupResponse {
        key: ctx.users.lookup(&m.access_key_id),
    })
}
