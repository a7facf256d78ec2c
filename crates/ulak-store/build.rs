//! The migrations are embedded by `sqlx::migrate!`, which tracks the files it read but not a
//! file added to a tree; rebuild when either tree changes, so a new migration is never left
//! out of a build (or out of the schema parity test).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
