//! The caller's access key, as the CLI and `ringbench` find it: both flags (or both
//! environment variables), else `<data_dir>/root.key`, the file the daemon writes on first
//! start (`access_key_id = "…"` and `secret_access_key = "…"` lines).

use std::path::{Path, PathBuf};

/// The key file's name inside the data directory.
pub const ROOT_KEY_FILE: &str = "root.key";

/// Why no access key could be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// One of id and secret was given without the other.
    #[error("give both --access-key-id and --secret-access-key, or neither")]
    HalfGiven,
    /// Neither was given and the key file cannot be read.
    #[error(
        "no access key given and {} cannot be read (set RINGSTORE_ACCESS_KEY_ID and \
         RINGSTORE_SECRET_ACCESS_KEY, or --data-dir)",
        path.display()
    )]
    Unreadable {
        /// The key file looked for.
        path: PathBuf,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// The key file lacks one of its two lines.
    #[error("{} has no {field}", path.display())]
    MissingField {
        /// The key file.
        path: PathBuf,
        /// The missing line's name.
        field: &'static str,
    },
}

/// `(access_key_id, secret_access_key)`: the given pair, or with neither given the pair
/// in `<data_dir>/root.key`.
pub fn credentials(
    access_key_id: Option<&str>,
    secret_access_key: Option<&str>,
    data_dir: &Path,
) -> Result<(String, String), KeyFileError> {
    match (access_key_id, secret_access_key) {
        (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        (None, None) => read_key_file(data_dir),
        _ => Err(KeyFileError::HalfGiven),
    }
}

fn read_key_file(data_dir: &Path) -> Result<(String, String), KeyFileError> {
    let path = data_dir.join(ROOT_KEY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(source) => return Err(KeyFileError::Unreadable { path, source }),
    };
    let field = |field: &'static str| -> Result<String, KeyFileError> {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == field {
                    return Ok(v.trim().trim_matches('"').to_string());
                }
            }
        }
        Err(KeyFileError::MissingField {
            path: path.clone(),
            field,
        })
    };
    Ok((field("access_key_id")?, field("secret_access_key")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        // Under target/, a real filesystem, like every file the tests write.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/client-tests")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn flags_win_over_the_file() {
        let got = credentials(Some("AKID"), Some("SECRET"), Path::new("/nonexistent")).unwrap();
        assert_eq!(got, ("AKID".to_owned(), "SECRET".to_owned()));
    }

    #[test]
    fn half_a_key_is_refused() {
        let err = credentials(Some("AKID"), None, Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, KeyFileError::HalfGiven), "{err}");
    }

    #[test]
    fn reads_the_key_file() {
        let dir = dir("key_file_reads");
        let text = "access_key_id = \"AKIDFILE\"\nsecret_access_key = \"s3cr3t\"\n";
        std::fs::write(dir.join(ROOT_KEY_FILE), text).unwrap();
        let got = credentials(None, None, &dir).unwrap();
        assert_eq!(got, ("AKIDFILE".to_owned(), "s3cr3t".to_owned()));
    }

    #[test]
    fn names_what_is_missing() {
        let dir = dir("key_file_missing");
        let err = credentials(None, None, &dir).unwrap_err();
        assert!(matches!(err, KeyFileError::Unreadable { .. }), "{err}");
        std::fs::write(dir.join(ROOT_KEY_FILE), "access_key_id = \"AKIDFILE\"\n").unwrap();
        let err = credentials(None, None, &dir).unwrap_err();
        assert!(
            matches!(
                err,
                KeyFileError::MissingField {
                    field: "secret_access_key",
                    ..
                }
            ),
            "{err}"
        );
    }
}
