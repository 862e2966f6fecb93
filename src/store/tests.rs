use super::*;
use crate::api::{Machine, MachineSpec, MachineState};

/// The store a test runs on, in `dir`: SQLite, or with FLOTILLA_TEST_STORE=postgres a
/// new database of the PostgreSQL at FLOTILLA_TEST_POSTGRES (scripts/test runs the
/// store's tests both ways). Opening `dir` again opens the same database.
pub(crate) async fn open(dir: &Path) -> Store {
    Store::open_with(dir, &config(dir).await).await.unwrap()
}

/// The config [`open`] uses, making the test's PostgreSQL database on first use.
pub(crate) async fn config(dir: &Path) -> StoreConfig {
    if std::env::var("FLOTILLA_TEST_STORE").as_deref() != Ok("postgres") {
        return StoreConfig::default();
    }
    postgres_config(dir).await
}

/// For tests of what only PostgreSQL does (whatever FLOTILLA_TEST_STORE says): a new
/// database's config in `dir`, or None when no test PostgreSQL is given, which under
/// FLOTILLA_E2E=1 is a failure as a missing testbed is.
pub(crate) async fn postgres_if_available(dir: &Path) -> Option<StoreConfig> {
    if std::env::var("FLOTILLA_TEST_POSTGRES").is_err() {
        assert!(
            std::env::var("FLOTILLA_E2E").as_deref() != Ok("1"),
            "FLOTILLA_E2E=1 and no FLOTILLA_TEST_POSTGRES: run scripts/postgres, which \
             starts one and prints its URL"
        );
        eprintln!("no FLOTILLA_TEST_POSTGRES: the PostgreSQL half of this test is skipped");
        return None;
    }
    Some(postgres_config(dir).await)
}

async fn postgres_config(dir: &Path) -> StoreConfig {
    let marker = dir.join("test-store-url");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return StoreConfig {
            url: Some(url),
            master_key_file: None,
        };
    }
    let admin = std::env::var("FLOTILLA_TEST_POSTGRES").expect(
        "FLOTILLA_TEST_STORE=postgres needs FLOTILLA_TEST_POSTGRES: run scripts/postgres, \
         which starts one and prints its URL",
    );
    // A name no other test (or test process) takes; scripts/postgres drops ft_* on start.
    let name = format!(
        "ft_{}_{}",
        std::process::id(),
        hex::encode(rand::random::<[u8; 6]>())
    );
    let url = create_postgres_database(&admin, &name).await.unwrap();
    std::fs::write(&marker, &url).unwrap();
    StoreConfig {
        url: Some(url),
        master_key_file: None,
    }
}

pub(crate) fn sample_machine(name: &str) -> Machine {
    Machine::planned(&MachineSpec::new(name, "container"), now_ms())
}

#[tokio::test]
async fn machines_are_unique_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
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

    let store = open(dir.path()).await;
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
async fn a_missing_or_foreign_master_key_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.put_secret("fleet", "ca_key", "KEY").await.unwrap();
    drop(store);
    let key = dir.path().join("master.key");
    let original = std::fs::read(&key).unwrap();
    let config = config(dir.path()).await;

    // No key: refused, and no new key is made that would seal new secrets apart.
    std::fs::remove_file(&key).unwrap();
    let err = Store::open_with(dir.path(), &config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("is sealed with a master key"), "{err}");
    assert!(err.contains("master.key does not exist"), "{err}");
    assert!(!key.exists());

    // Another key (a replica given the wrong file): refused, the store untouched.
    MasterKey::load_or_create(&key).unwrap();
    let err = Store::open_with(dir.path(), &config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("is not the master key of the fleet"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");

    // The right key again: everything opens.
    std::fs::write(&key, original).unwrap();
    let store = Store::open_with(dir.path(), &config).await.unwrap();
    assert_eq!(
        store.secret("fleet", "ca_key").await.unwrap().as_deref(),
        Some("KEY")
    );

    // A key file named apart from the data dir (--master-key-file) serves the same.
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("fleet.key");
    std::fs::rename(&key, &moved).unwrap();
    let config = StoreConfig {
        master_key_file: Some(moved),
        ..config
    };
    let store = Store::open_with(dir.path(), &config).await.unwrap();
    assert_eq!(
        store.secret("fleet", "ca_key").await.unwrap().as_deref(),
        Some("KEY")
    );
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
    let a = open(dir.path()).await.fleet_id().await.unwrap();
    let b = open(dir.path()).await.fleet_id().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 12);
}

#[tokio::test]
async fn many_openers_of_a_new_store_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    // Eight connections racing to create the same new store: on SQLite, to switch the
    // new file to WAL; on PostgreSQL, to apply the migrations.
    let config = config(dir.path()).await;
    let opens =
        futures::future::join_all((0..8).map(|_| Store::open_with(dir.path(), &config))).await;
    for o in opens {
        o.unwrap();
    }
}

#[tokio::test]
async fn a_long_list_comes_whole_in_name_order_as_each_row_reads_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // More than two of the list's chunks, inserted out of order, with every kind of
    // column filled on some rows and empty on others.
    let count = 1203;
    for i in (0..count).rev() {
        let mut m = sample_machine(&format!("m{:04}", (i * 7919) % count));
        if i % 5 == 0 {
            m.spec.engine.labels = vec![format!("team={i}"), "tier=web".into()];
        }
        if i % 3 == 0 {
            m.ip = Some(format!("10.0.{}.{}", i / 250, i % 250));
            m.error = Some("it said \"no\"\nand stopped".into());
            m.driver_data = serde_json::json!({"id": i, "tags": ["a", "b"]});
        }
        store.insert_machine(&m).await.unwrap();
    }
    let mut sick_health = crate::api::Health::unknown("m0003", Some("disk 93% full"));
    sick_health.checked_ms = now_ms();
    store.put_health(&[sick_health.clone()]).await.unwrap();
    let listed = store.machines().await.unwrap();
    assert_eq!(listed.len(), count);
    assert!(listed.windows(2).all(|w| w[0].name < w[1].name));
    for m in listed.iter().step_by(97) {
        assert_eq!(m, &store.machine(&m.name).await.unwrap().machine);
    }
    // In brief, the same machines in the same order, with the spec's labels and the
    // recorded health.
    let briefs = store.machine_briefs().await.unwrap();
    let expected: Vec<crate::api::MachineBrief> = listed
        .iter()
        .map(|m| crate::api::MachineBrief {
            health: (m.name == "m0003").then(|| crate::api::HealthBrief::from(&sick_health)),
            ..crate::api::MachineBrief::from(m)
        })
        .collect();
    assert_eq!(briefs, expected);
    let health = store.health_by_machine().await.unwrap();
    assert_eq!(health.len(), count);
    assert!(health.windows(2).all(|w| w[0].0 < w[1].0));
    let sick: Vec<&str> = health
        .iter()
        .filter(|(_, h)| h.is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(sick, ["m0003"]);
    assert_eq!(health[3].1.as_ref(), Some(&sick_health));
    assert_eq!(store.all_health().await.unwrap(), [sick_health]);

    // A corrupt row is named, not skipped.
    sqlx::query("UPDATE machines SET spec_json = '{broken' WHERE name = 'm0500'")
        .execute(&store.pool)
        .await
        .unwrap();
    let err = store.machines().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(name, _) if name == "m0500"),
        "{err}"
    );
    // So is one whose labels a list in brief cannot read.
    sqlx::query("UPDATE machines SET labels_json = '[\"a\", 7' WHERE name = 'm0700'")
        .execute(&store.pool)
        .await
        .unwrap();
    let err = store.machine_briefs().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(name, why) if name == "m0700" && why.contains("labels_json")),
        "{err}"
    );
    // And a damaged health sample fails the health lists (named on SQLite, which reads
    // each row in place).
    sqlx::query("UPDATE health SET json = '{\"machine\": 7' WHERE machine = 'm0003'")
        .execute(&store.pool)
        .await
        .unwrap();
    for err in [
        store.health_by_machine().await.unwrap_err(),
        store.all_health().await.unwrap_err(),
    ] {
        assert!(matches!(&err, StoreError::Corrupt(..)), "{err}");
        if store.engine == super::Engine::Sqlite {
            assert!(
                matches!(&err, StoreError::Corrupt(name, why) if name == "m0003" && why.contains("health")),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn brief_columns_follow_their_source_and_are_filled_in_for_older_stores() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut m = sample_machine("lab1");
    m.spec.engine.labels = vec!["team=web".into(), "quote=\"x\"".into()];
    store.insert_machine(&m).await.unwrap();
    store.insert_machine(&sample_machine("lab2")).await.unwrap();
    let briefs = store.machine_briefs().await.unwrap();
    assert_eq!(briefs[0].labels, m.spec.engine.labels);
    assert_eq!(briefs[0].health, None, "never checked");
    // A new spec brings its labels; a new health sample its status and reasons.
    m.spec.engine.labels = vec!["team=db".into()];
    store.set_machine_spec("lab1", &m.spec).await.unwrap();
    let mut h = crate::api::Health::unknown("lab1", None);
    h.status = crate::api::HealthStatus::Degraded;
    h.reasons = vec!["disk 93% full".into(), "load 9.1".into()];
    h.checked_ms = now_ms();
    store.put_health(&[h.clone()]).await.unwrap();
    let expected = Some(crate::api::HealthBrief::from(&h));
    let briefs = store.machine_briefs().await.unwrap();
    assert_eq!(briefs[0].labels, ["team=db"]);
    assert_eq!(briefs[0].health, expected);
    assert_eq!(briefs[1].name, "lab2");
    assert_eq!(briefs[1].health, None);

    // A store made before the columns (and, on SQLite, the indexes over them): the
    // migrations fill them in from the JSON and index them again.
    if store.engine == super::Engine::Sqlite {
        for sql in [
            "DROP INDEX machines_brief",
            "DROP INDEX health_brief",
            "DELETE FROM schema_migrations WHERE name = 'brief_indexes'",
        ] {
            sqlx::query(sql).execute(&store.pool).await.unwrap();
        }
    }
    for sql in [
        "ALTER TABLE machines DROP COLUMN labels_json",
        "ALTER TABLE health DROP COLUMN reasons_json",
        "DELETE FROM schema_migrations WHERE name = 'brief_columns'",
    ] {
        sqlx::query(sql).execute(&store.pool).await.unwrap();
    }
    store.close().await;
    let store = open(dir.path()).await;
    let briefs = store.machine_briefs().await.unwrap();
    assert_eq!(briefs[0].labels, ["team=db"]);
    assert_eq!(briefs[0].health, expected);
}

/// An operation's leases (its target's and those it holds beside it) are renewed and
/// given back together; another operation's stay as they are.
#[tokio::test]
async fn an_operations_leases_are_renewed_and_released_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let now = now_ms();
    for (target, op) in [("prod", "scale-1"), ("prod-w1", "scale-1"), ("web", "rm-2")] {
        let taken = store
            .try_lease(target, op, "1@h#a", now, 1_000)
            .await
            .unwrap();
        assert_eq!(taken, None, "{target} was free");
    }
    let renewed = store
        .renew_operation_leases("scale-1", "1@h#a", now + 500, 1_000)
        .await
        .unwrap();
    assert_eq!(renewed, 2);
    // Another owner cannot renew them.
    let renewed = store
        .renew_operation_leases("scale-1", "2@h#b", now + 900, 1_000)
        .await
        .unwrap();
    assert_eq!(renewed, 0);
    let held = store.lease("prod-w1").await.unwrap().unwrap();
    assert_eq!(
        (held.operation_id.as_str(), held.expires_ms),
        ("scale-1", now + 1_500)
    );
    assert_eq!(
        store.lease("web").await.unwrap().unwrap().expires_ms,
        now + 1_000
    );
    store.release_operation_leases("scale-1").await.unwrap();
    assert_eq!(store.lease("prod").await.unwrap(), None);
    assert_eq!(store.lease("prod-w1").await.unwrap(), None);
    assert!(store.lease("web").await.unwrap().is_some());
}

/// A server reads the version counters on every request (on SQLite in place, on a
/// connection it keeps): they move with writes made through another opening of the
/// store (another process, another replica), and closing every opening still folds
/// SQLite's log into the file.
#[tokio::test]
async fn version_counters_move_with_another_openings_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = open(dir.path()).await;
    let other = open(dir.path()).await;
    let (m0, t0) = server.versions().await.unwrap();
    other
        .insert_machine(&sample_machine("web-1"))
        .await
        .unwrap();
    let (m1, t1) = server.versions().await.unwrap();
    assert!(m1 > m0, "a machine written elsewhere: {m0} -> {m1}");
    assert_eq!(t1, t0);
    other
        .create_token(&crate::api::TokenSpec {
            name: "ci".into(),
            role: crate::api::AccessRole::Viewer,
            ttl_secs: None,
        })
        .await
        .unwrap();
    let (m2, t2) = server.versions().await.unwrap();
    assert!(t2 > t1, "a token made elsewhere: {t1} -> {t2}");
    assert_eq!(m2, m1);
    server.close().await;
    other.close().await;
    if server.engine() == Engine::Sqlite {
        let wal = dir.path().join("fleet.db-wal");
        assert!(!wal.exists(), "closed, the store is one file");
    }
}
