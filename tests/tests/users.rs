//! Users and access keys against the real daemon: the admin operations' answers and
//! errors, durability across a restart, and what a deleted key or user does to open and
//! new connections.

use ringstore_client::Status;
use ringstore_client::{Acl, Client, ClientConfig, Error, StorageClass};
use ringstore_tests::Daemon;

async fn connect(d: &Daemon, id: &str, secret: &str) -> Result<Client, Error> {
    Client::connect(ClientConfig::new(d.endpoint.clone(), id, secret)).await
}

fn status<T: std::fmt::Debug>(r: Result<T, Error>) -> Status {
    r.expect_err("must fail").status().expect("a status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_operations_and_their_errors() {
    let d = Daemon::start();
    let root = d.client().await;
    let users = root.user_list().await.unwrap();
    assert_eq!(users.len(), 1);
    assert!(users[0].admin && users[0].display_name == "root");
    assert_eq!(users[0].access_key_ids, [ringstore_tests::ACCESS_KEY_ID]);
    let erin = root.user_create("erin").await.unwrap();
    assert!(!erin.admin && erin.access_key_ids.is_empty());
    assert_eq!(erin.user_id.len(), 16);
    assert!(erin.user_id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        status(root.user_create("erin").await),
        Status::UserAlreadyExists
    );
    assert_eq!(
        status(root.user_create("Erin!").await),
        Status::InvalidUserName
    );
    assert_eq!(status(root.key_create("nobody").await), Status::NoSuchUser);
    assert_eq!(status(root.user_delete("nobody").await), Status::NoSuchUser);
    assert_eq!(
        status(root.key_delete("RSNOSUCHKEY000000000").await),
        Status::NoSuchAccessKey
    );
    assert_eq!(status(root.user_delete("root").await), Status::BadRequest);
    let root_key = ringstore_tests::ACCESS_KEY_ID;
    assert_eq!(status(root.key_delete(root_key).await), Status::BadRequest);
    let k1 = root.key_create("erin").await.unwrap();
    let k2 = root.key_create("erin").await.unwrap();
    assert_ne!(k1.access_key_id, k2.access_key_id);
    assert_eq!(k1.user_id, erin.user_id);
    assert_eq!(
        status(root.key_create("erin").await),
        Status::TooManyAccessKeys
    );
    let mut listed: Vec<String> = root
        .key_list(Some("erin"))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    listed.sort();
    let mut made = vec![k1.access_key_id.clone(), k2.access_key_id.clone()];
    made.sort();
    assert_eq!(listed, made);
    assert_eq!(root.key_list(None).await.unwrap().len(), 3);
    // A second administrator key (for an adapter) is a key of root.
    let admin2 = root.key_create("root").await.unwrap();
    let admin2 = connect(&d, &admin2.access_key_id, &admin2.secret_access_key)
        .await
        .unwrap();
    assert_eq!(admin2.user_list().await.unwrap().len(), 2);
    // The users file, which holds the secrets, is private to the daemon's user.
    let file = d.data_dir.join("users.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_keys_and_users_stop_working_everywhere_and_state_survives_restart() {
    let mut d = Daemon::start();
    let root = d.client().await;
    root.user_create("frank").await.unwrap();
    let k1 = root.key_create("frank").await.unwrap();
    let k2 = root.key_create("frank").await.unwrap();
    let c1 = connect(&d, &k1.access_key_id, &k1.secret_access_key)
        .await
        .unwrap();
    let c2 = connect(&d, &k2.access_key_id, &k2.secret_access_key)
        .await
        .unwrap();
    c1.create_bucket("frank-1", Acl::Private, StorageClass::Standard, "local")
        .await
        .unwrap();
    c1.ping().await.unwrap();
    // A deleted key: the open connection's next request is refused, so are new ones; the
    // user's other key keeps working.
    root.key_delete(&k1.access_key_id).await.unwrap();
    assert_eq!(
        status(c1.head_bucket("frank-1").await),
        Status::AccessDenied
    );
    let again = connect(&d, &k1.access_key_id, &k1.secret_access_key).await;
    assert!(again.unwrap_err().is_access_denied());
    c2.head_bucket("frank-1").await.unwrap();
    assert!(root.key_lookup(&k1.access_key_id).await.unwrap().is_none());
    // A user who owns a bucket is kept.
    assert_eq!(
        status(root.user_delete("frank").await),
        Status::UserOwnsBuckets
    );
    // Users and keys survive a restart.
    d.stop();
    d.restart();
    let root = d.client().await;
    let c2 = connect(&d, &k2.access_key_id, &k2.secret_access_key)
        .await
        .unwrap();
    c2.delete_bucket("frank-1").await.unwrap();
    let names: Vec<String> = root
        .user_list()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.display_name)
        .collect();
    assert_eq!(names, ["root", "frank"]);
    // A deleted user: its keys stop working on open and new connections.
    root.user_delete("frank").await.unwrap();
    assert_eq!(status(c2.ping().await), Status::AccessDenied);
    let again = connect(&d, &k2.access_key_id, &k2.secret_access_key).await;
    assert!(again.unwrap_err().is_access_denied());
    assert!(root.key_lookup(&k2.access_key_id).await.unwrap().is_none());
    // A deleted user's secrets are gone from the users file too.
    let text = std::fs::read_to_string(d.data_dir.join("users.json")).unwrap();
    assert!(!text.contains(&k2.secret_access_key));
}
