//! `ringstore admin user …` and `admin key …` against the real daemon: output, exit codes,
//! a user's own key at work, and no secret in the daemon's log.

use ringstore_tests::Daemon;

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn exit(out: &std::process::Output) -> i32 {
    out.status.code().expect("exited")
}

/// The value of `name = "value"` in the TOML `admin key create` prints.
fn field(toml: &str, name: &str) -> String {
    toml.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no {name} in {toml}"))
        .to_string()
}

#[test]
fn user_and_key_commands() {
    let d = Daemon::start_logged();
    let created = ok(&d.cli(&["admin", "user", "create", "gina"]));
    assert!(created.contains("created user gina (user id "), "{created}");
    assert_eq!(exit(&d.cli(&["admin", "user", "create", "gina"])), 1);
    assert_eq!(exit(&d.cli(&["admin", "user", "create", "Bad Name"])), 1);
    let key = ok(&d.cli(&["admin", "key", "create", "gina"]));
    let (id, secret) = (
        field(&key, "access_key_id"),
        field(&key, "secret_access_key"),
    );
    assert_eq!(field(&key, "user"), "gina");
    assert_eq!(exit(&d.cli(&["admin", "key", "create", "nobody"])), 3);
    // The user's own key: its buckets, and no admin commands.
    ok(&d.cli_as(&id, &secret, &["mb", "rs://gina-bkt"]));
    let ls = ok(&d.cli_as(&id, &secret, &["ls"]));
    assert!(ls.contains("gina-bkt"), "{ls}");
    assert_eq!(exit(&d.cli_as(&id, &secret, &["admin", "user", "list"])), 4);
    ok(&d.cli(&["mb", "rs://root-bkt"]));
    let ls = ok(&d.cli_as(&id, &secret, &["ls"]));
    assert!(!ls.contains("root-bkt"), "only the caller's buckets: {ls}");
    let users = ok(&d.cli(&["admin", "user", "list"]));
    assert!(
        users.contains("root (admin)") && users.contains("gina"),
        "{users}"
    );
    assert!(users.contains(&id), "{users}");
    let keys = ok(&d.cli(&["admin", "key", "list", "--user", "gina"]));
    assert!(keys.contains(&id) && !keys.contains(&secret), "{keys}");
    let all = ok(&d.cli(&["admin", "key", "list"]));
    assert!(
        all.contains(ringstore_tests::ACCESS_KEY_ID) && all.contains(&id),
        "{all}"
    );
    // A user who owns a bucket stays; after rb it goes, and its key with it.
    let refused = d.cli(&["admin", "user", "delete", "gina"]);
    assert_eq!(exit(&refused), 1);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("owns 1 bucket"), "{stderr}");
    ok(&d.cli_as(&id, &secret, &["rb", "rs://gina-bkt"]));
    ok(&d.cli(&["admin", "user", "delete", "gina"]));
    assert_eq!(exit(&d.cli_as(&id, &secret, &["ls"])), 4);
    let out = d.cli(&["admin", "key", "delete", &id]);
    assert_eq!(exit(&out), 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(exit(&d.cli(&["admin", "user", "delete", "gina"])), 3);
    // Second key of a user, deleted by id.
    ok(&d.cli(&["admin", "user", "create", "hal"]));
    let key = ok(&d.cli(&["admin", "key", "create", "hal"]));
    let (id2, secret2) = (
        field(&key, "access_key_id"),
        field(&key, "secret_access_key"),
    );
    ok(&d.cli_as(&id2, &secret2, &["ls"]));
    ok(&d.cli(&["admin", "key", "delete", &id2]));
    assert_eq!(exit(&d.cli_as(&id2, &secret2, &["ls"])), 4);
    // The daemon logged at debug level throughout: key ids yes, secrets never.
    let log = d.log();
    assert!(log.contains(&id), "the log names key ids");
    for s in [&secret, &secret2, &ringstore_tests::SECRET.to_string()] {
        assert!(!log.contains(s.as_str()), "a secret in the daemon log");
    }
}
