//! A real fleet moves from its SQLite file to PostgreSQL (`flotilla store migrate`), and
//! a server on the copy serves it: the machine is listed, answers `ssh` with the keys
//! sealed in the copy, and is removed cleanly. Needs the testbed and the test PostgreSQL
//! (scripts/test starts both).

mod common;
mod server_support;

use common::{text, IMAGE_DOCKER};
use server_support::Server;

#[test]
fn a_local_fleet_moves_to_postgres_and_a_server_serves_it() {
    if !common::testbed(IMAGE_DOCKER) {
        return;
    }
    let Some(url) = server_support::postgres_database_if_available("store_migrate") else {
        return;
    };
    let local = common::Fleet::new();
    let name = common::unique("mig");
    local.create(&name, &[]);
    let before = local.ssh(&name, "echo before");
    assert!(before.status.success(), "{}", text(&before.stderr));

    // With another master key the copy could not open its secrets: refused up front.
    let other_key = local.home().join("other.key");
    std::fs::write(&other_key, "ab".repeat(32)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&other_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = local.fails(&[
        "store",
        "migrate",
        "--to",
        &url,
        "--master-key-file",
        other_key.to_str().unwrap(),
    ]);
    assert!(err.contains("is not the master key"), "{err}");

    let out = local.ok(&["store", "migrate", "--to", &url]);
    assert!(out.contains("verified"), "{out}");
    assert!(out.contains("machines 1"), "{out}");
    // Once only: a store that holds a fleet is not copied over.
    let err = local.fails(&["store", "migrate", "--to", &url]);
    assert!(err.contains("already holds a fleet"), "{err}");

    let server = Server::start_on_store(&url, &local.home().join("master.key"), &[]);
    let admin = server.admin_client();
    assert!(admin.ok(&["ls", "-q"]).lines().any(|l| l == name));
    let state = admin.ok(&["status", &name]);
    assert_eq!(state.trim(), "Running");
    let after = admin.ssh(&name, "echo after");
    assert!(
        after.status.success() && text(&after.stdout).contains("after"),
        "{}",
        text(&after.stderr)
    );
    admin.ok(&["rm", "-y", &name]);
    assert!(!admin.ok(&["ls", "-q"]).lines().any(|l| l == name));
    common::wait_until(
        "the machine's container is gone",
        std::time::Duration::from_secs(60),
        || common::containers_of(&name).is_empty(),
    );
}
