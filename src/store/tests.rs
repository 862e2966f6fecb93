use super::*;
use crate::api::{Machine, MachineSpec, MachineState};

pub(crate) fn sample_machine(name: &str) -> Machine {
    Machine::planned(&MachineSpec::new(name, "container"), now_ms())
}

#[tokio::test]
async fn machines_are_unique_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store.insert_machine(&sample_machine("web1")).await.unwrap();
    let dup = store
        .insert_machine(&sample_machine("web1"))
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::Duplicate(_)), "{dup}");
    store
        .set_state("web1", MachineState::Running, None)
        .await
        .unwrap();
    store
        .set_address("web1", Some("172.17.0.5"), Some("tcp://172.17.0.5:2376"))
        .await
        .unwrap();
    drop(store);

    let store = Store::open(dir.path()).await.unwrap();
    let m = store.machine("web1").await.unwrap().machine;
    assert_eq!(m.state, MachineState::Running);
    assert_eq!(m.url.as_deref(), Some("tcp://172.17.0.5:2376"));
    assert!(matches!(
        store.machine("nope").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_state("nope", MachineState::Running, None).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_removed_with_the_machine() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store.insert_machine(&sample_machine("web1")).await.unwrap();
    let owner = machine_owner("web1");
    let secret = "-----BEGIN OPENSSH PRIVATE KEY-----very-secret-material";
    store.put_secret(&owner, "ssh_key", secret).await.unwrap();
    assert_eq!(
        store.secret(&owner, "ssh_key").await.unwrap().as_deref(),
        Some(secret)
    );
    drop(store);

    // The plaintext must not be anywhere in the database files.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(18).any(|w| w == b"very-secret-materi"),
            "plaintext in {}",
            path.display()
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let store = Store::open(dir.path()).await.unwrap();
    store.delete_machine("web1").await.unwrap();
    assert_eq!(store.owner_items(&owner).await.unwrap(), 0);
}

#[tokio::test]
async fn a_foreign_master_key_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store.put_secret("fleet", "ca_key", "KEY").await.unwrap();
    drop(store);
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let err = store
        .secret("fleet", "ca_key")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("master.key does not match"), "{err}");
}

#[tokio::test]
async fn a_world_readable_master_key_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).await.unwrap());
    let key = dir.path().join("master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Store::open(dir.path()).await.err().unwrap().to_string();
    assert!(err.contains("chmod 600"), "{err}");
}

#[tokio::test]
async fn fleet_id_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(dir.path())
        .await
        .unwrap()
        .fleet_id()
        .await
        .unwrap();
    let b = Store::open(dir.path())
        .await
        .unwrap()
        .fleet_id()
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 12);
}

#[tokio::test]
async fn many_openers_of_a_new_store_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    // Eight connections racing to create and switch the same new file to WAL.
    let opens = futures::future::join_all((0..8).map(|_| Store::open(dir.path()))).await;
    for o in opens {
        o.unwrap();
    }
}
