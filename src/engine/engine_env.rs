//! `--engine-env` values (a registry password, a proxy with credentials) are secrets:
//! they are taken out of a spec before it is stored, sealed with the owner's other
//! secrets, and the stored spec keeps each key with the value `SEALED_ENV_VALUE`. So
//! every reader of a machine or swarm (the API, `inspect`, events, the TUI, a viewer)
//! sees the keys only; provisioning puts the values back from the seal, and an
//! operator asks for them explicitly (`inspect --engine-env`, audited on a server).

use crate::api::{EngineOptions, Error, Result, SEALED_ENV_VALUE};
use crate::store::Store;

/// The secret kind of a machine's engine env (a swarm's: per role, as its user-data).
pub(crate) const ENGINE_ENV: &str = "engine_env";

/// Takes the values out of `engine.env`, leaving each key with `SEALED_ENV_VALUE`;
/// returns them as the JSON to seal, or None when there are none.
pub(crate) fn take(engine: &mut EngineOptions) -> Result<Option<String>> {
    if engine.env.is_empty() || engine.env.iter().all(|(_, v)| v == SEALED_ENV_VALUE) {
        return Ok(None);
    }
    let json = serde_json::to_string(&engine.env)
        .map_err(|e| Error::internal(format!("engine env: {e}")))?;
    for (_, v) in engine.env.iter_mut() {
        *v = SEALED_ENV_VALUE.to_string();
    }
    Ok(Some(json))
}

/// The sealed values of `owner`'s engine env (`kind`), empty when there are none.
pub(crate) async fn unsealed(
    store: &Store,
    owner: &str,
    kind: &str,
) -> Result<Vec<(String, String)>> {
    match store.secret(owner, kind).await? {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| Error::store(format!("{owner}: sealed engine env: {e}"))),
    }
}

/// Puts the sealed values back into a spec read from the store (for provisioning, or a
/// swarm's template for a new machine). A stored key without a sealed value keeps none.
pub(crate) async fn restore(
    store: &Store,
    owner: &str,
    kind: &str,
    engine: &mut EngineOptions,
) -> Result<()> {
    if engine.env.is_empty() {
        return Ok(());
    }
    let sealed = unsealed(store, owner, kind).await?;
    if sealed.is_empty() {
        // A placeholder must never reach a host's dockerd as a value.
        if engine.env.iter().any(|(_, v)| v == SEALED_ENV_VALUE) {
            return Err(Error::store(format!(
                "{owner}: its --engine-env values are missing from the store"
            )));
        }
        return Ok(());
    }
    engine.env = sealed;
    Ok(())
}

/// The `meta` key that says a store's specs hold no engine env value in clear.
const SEALED_MARK: &str = "engine_env_sealed";

/// Once per store: seals the engine env values a store made before sealing kept in
/// its machines' and swarms' specs.
pub(crate) async fn seal_stored(store: &Store) -> Result<()> {
    if store.meta(SEALED_MARK).await?.is_some() {
        return Ok(());
    }
    for m in store.machines().await? {
        let mut spec = m.spec.clone();
        if let Some(json) = take(&mut spec.engine)? {
            store
                .put_secret(&crate::store::machine_owner(&m.name), ENGINE_ENV, &json)
                .await?;
            store.set_machine_spec(&m.name, &spec).await?;
        }
    }
    for s in store.swarms().await? {
        let mut spec = s.spec.clone();
        let sealed = super::swarms::take_engine_env(&mut spec)?;
        if sealed.is_empty() {
            continue;
        }
        let owner = crate::store::swarm_owner(&s.name);
        for (kind, json) in &sealed {
            store.put_secret(&owner, kind, json).await?;
        }
        store.set_swarm_spec(&s.name, &spec).await?;
    }
    store.set_meta(SEALED_MARK, "1").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_taken_out_and_keys_kept() {
        let mut e = EngineOptions {
            env: vec![
                ("HTTP_PROXY".into(), "http://u:pw@proxy:3128".into()),
                ("REGISTRY_PASSWORD".into(), "hunter2".into()),
            ],
            ..Default::default()
        };
        let json = take(&mut e).unwrap().unwrap();
        assert!(json.contains("hunter2"));
        assert!(e.env.iter().all(|(_, v)| v == SEALED_ENV_VALUE));
        assert_eq!(e.env[1].0, "REGISTRY_PASSWORD");
        // A spec already sealed (a swarm's stored template) is not sealed again.
        assert!(take(&mut e).unwrap().is_none());
        assert!(take(&mut EngineOptions::default()).unwrap().is_none());
    }

    /// A store from before sealing: its clear values are sealed once when opened, the
    /// spec keeps the keys, and the values come back unsealed for provisioning.
    #[tokio::test]
    async fn a_store_from_before_is_sealed_once() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).await.unwrap();
        let mut spec = crate::api::MachineSpec::new("old1", "generic");
        spec.engine.env = vec![("TOKEN".into(), "clear-value-42".into())];
        store
            .insert_machine(&crate::api::Machine::planned(&spec, 1))
            .await
            .unwrap();
        seal_stored(&store).await.unwrap();
        let stored = store.machine("old1").await.unwrap().machine.spec;
        assert_eq!(
            stored.engine.env,
            vec![("TOKEN".to_string(), SEALED_ENV_VALUE.to_string())]
        );
        let owner = crate::store::machine_owner("old1");
        let mut engine = stored.engine.clone();
        restore(&store, &owner, ENGINE_ENV, &mut engine)
            .await
            .unwrap();
        assert_eq!(engine.env[0].1, "clear-value-42");
        // Once: a machine recorded in clear later (by an old binary) is left alone.
        let mut later = crate::api::MachineSpec::new("old2", "generic");
        later.engine.env = vec![("K".into(), "v".into())];
        store
            .insert_machine(&crate::api::Machine::planned(&later, 1))
            .await
            .unwrap();
        seal_stored(&store).await.unwrap();
        assert_eq!(
            store.machine("old2").await.unwrap().machine.spec.engine.env[0].1,
            "v"
        );
    }
}
