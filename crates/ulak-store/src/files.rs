//! An SQLite database holds every phone number, TC ID number and message text: its file and
//! the write-ahead log and shared-memory files beside it are the owner's only (0600), whatever
//! the umask. SQLite creates the `-wal` and `-shm` files with the database file's mode, so
//! creating that one 0600 before SQLite opens it is enough; files left more open by an older
//! version are narrowed with a warning.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{Result, StoreError};

/// The database file of a file-backed SQLite URL (`None` for memory databases).
fn database_file(url: &str) -> Result<Option<PathBuf>> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(StoreError::from_sqlx)?;
    let file = options.get_filename();
    Ok((!file.as_os_str().is_empty()).then(|| file.to_owned()))
}

/// Makes the database file of `url` owner-only before it is opened: creates it empty with
/// mode 0600 when it is missing (SQLite takes an empty file as a new database), and narrows
/// it and its `-wal` and `-shm` files when they are more open.
pub(crate) fn private_database_files(url: &str) -> Result<()> {
    let Some(file) = database_file(url)? else {
        return Ok(());
    };
    // Only where SQLite itself would create it (read-only and read-write opens do not).
    if url.contains("mode=rwc") {
        create_private(&file)?;
    }
    for path in [file.clone(), sidecar(&file, "-wal"), sidecar(&file, "-shm")] {
        narrow(&path)?;
    }
    Ok(())
}

/// `file` with `suffix` after its name (`ulak.db-wal`).
fn sidecar(file: &Path, suffix: &str) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(unix)]
fn create_private(file: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => Ok(()),
        // There already (or the directory is missing: SQLite reports that in its words).
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Config(format!(
            "cannot create {}: {e}",
            file.display()
        ))),
    }
}

#[cfg(unix)]
fn narrow(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    tracing::warn!(
        path = %path.display(),
        mode = format!("{mode:o}"),
        "the database file was readable by others; making it owner-only (0600)"
    );
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| StoreError::Config(format!("cannot restrict {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn create_private(_file: &Path) -> Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn narrow(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn database_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("u.db");
        private_database_files(&format!("sqlite://{}?mode=rwc", db.display())).unwrap();
        assert_eq!(mode(&db), 0o600);
        let wal = sidecar(&db, "-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o664)).unwrap();
        private_database_files(&format!("sqlite:{}", db.display())).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        assert_eq!(database_file("sqlite::memory:").unwrap(), None);
    }
}
