//! The data directory and the SQLite files hold every phone number and message text: a fresh
//! start makes the directory 0700 and `ulak.db`, its `-wal` and `-shm` 0600 whatever the
//! umask, and a start over a directory and database left open to others narrows them.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::helpers::spawn_app_with;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn assert_private(dir: &Path) {
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for f in ["ulak.db", "ulak.db-wal", "ulak.db-shm", "master.key"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
}

#[tokio::test]
async fn the_data_directory_and_database_files_are_owner_only() {
    // A fresh start, in a directory that does not exist yet.
    let app = spawn_app_with(|s| s.data_dir = s.data_dir.join("nested").join("data")).await;
    let dir = app.dir.join("nested").join("data");
    // Something written, so the write-ahead log is in use.
    let r = app
        .call(
            "POST",
            "/groups",
            crate::helpers::ADMIN_KEY,
            Some(serde_json::json!({"name": "VIP"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_private(&dir);
    assert_eq!(mode(&app.dir.join("nested")), 0o700, "created parents too");

    // A start over files an older version (or a loose umask) left open to others.
    let old = tempfile::tempdir().unwrap();
    let data = old.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = data.join("ulak.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = spawn_app_with(|s| s.data_dir = data.clone()).await;
    let r = again
        .call("GET", "/groups", crate::helpers::ADMIN_KEY, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_private(&data);
}
