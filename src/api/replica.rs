//! Several `flotilla serve` processes on one store ("replicas"): who they are, and the
//! one rule that shares the machines' health checks among the live ones. Pure, so the
//! engine, the tests and the bench agree on who checks which machine.
//!
//! Each replica heartbeats in the store and names when it counts as dead
//! ([`replica_ttl`]); a machine is checked by the live monitoring replica with the
//! highest rendezvous (highest-random-weight) score for its name. When a replica
//! joins or dies, only the machines it wins or held move.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Error;

/// A server process sharing the fleet's store, as its heartbeat row says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Replica {
    /// Its name among the replicas: `--replica-name`, or HOST:PORT it listens on.
    pub id: String,
    /// The process: `pid@host#instance`.
    pub process: String,
    /// Unix ms it joined.
    pub started_ms: i64,
    /// Unix ms of its latest heartbeat.
    pub heartbeat_ms: i64,
    /// Unix ms from which it counts as dead unless it heartbeats again (its machines go
    /// to the others).
    pub expires_ms: i64,
    /// Whether its health monitor runs: only those share the machines' checks.
    pub monitoring: bool,
    /// How many machines its monitor checks now.
    pub monitored: u64,
}

/// The longest replica name.
pub const MAX_REPLICA_NAME: usize = 128;

/// A replica name: 1 to [`MAX_REPLICA_NAME`] printable ASCII characters, no spaces.
pub fn validate_replica_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.len() > MAX_REPLICA_NAME
        || !name.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(Error::invalid(format!(
            "invalid replica name {name:?}: give 1 to {MAX_REPLICA_NAME} printable characters without spaces (e.g. HOST:PORT)"
        )));
    }
    Ok(())
}

/// How often a replica heartbeats, for a monitor checking every `interval_ms`: a
/// quarter of the interval, between 250 ms and 2 s.
pub fn heartbeat_period(interval_ms: u64) -> Duration {
    Duration::from_millis((interval_ms / 4).clamp(250, 2_000))
}

/// How long after its heartbeat a replica counts as dead: three heartbeats, so one late
/// or lost write does not move its machines. Its machines are checked again by the
/// others within this, one heartbeat to notice, and one check: within two intervals
/// of 1 s or more.
pub fn replica_ttl(interval_ms: u64) -> Duration {
    heartbeat_period(interval_ms) * 3
}

/// The replica (of `replicas`, by id) that checks `machine`: the highest score, ties to
/// the lowest id. None when there is none.
pub fn replica_for<'a>(machine: &str, replicas: &'a [String]) -> Option<&'a str> {
    replicas
        .iter()
        .map(|r| (score(r, machine), r))
        .max_by(|(sa, ra), (sb, rb)| sa.cmp(sb).then_with(|| rb.cmp(ra)))
        .map(|(_, r)| r.as_str())
}

/// The rendezvous weight of (replica, machine): FNV-1a over both names, mixed with
/// splitmix64's finaliser. Stable across processes, versions and platforms.
fn score(replica: &str, machine: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(replica.as_bytes());
    eat(&[0xff]);
    eat(machine.as_bytes());
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_machine_has_one_replica_and_only_a_dead_ones_machines_move() {
        let three = ids(&["a:7443", "b:7443", "c:7443"]);
        let two = ids(&["a:7443", "c:7443"]);
        let machines: Vec<String> = (0..3000).map(|i| format!("web{i}")).collect();
        let mut per = std::collections::HashMap::new();
        for m in &machines {
            let before = replica_for(m, &three).unwrap();
            *per.entry(before).or_insert(0) += 1;
            let after = replica_for(m, &two).unwrap();
            if before != "b:7443" {
                assert_eq!(before, after, "{m} moved though its replica lives");
            } else {
                assert_ne!(after, "b:7443");
            }
            // The order of the list does not matter.
            let shuffled = ids(&["c:7443", "a:7443", "b:7443"]);
            assert_eq!(replica_for(m, &shuffled), Some(before));
        }
        // Roughly a third each.
        for (r, n) in per {
            assert!((800..=1200).contains(&n), "{r}: {n} of 3000");
        }
        assert_eq!(replica_for("web1", &[]), None);
        assert_eq!(replica_for("web1", &ids(&["x"])), Some("x"));
    }

    #[test]
    fn scores_are_stable() {
        // A changed hash would move every machine during a rolling upgrade.
        assert_eq!(score("a:7443", "web1"), score("a:7443", "web1"));
        assert_ne!(score("a:7443", "web1"), score("web1", "a:7443"));
        assert_eq!(score("a:7443", "web1"), 0x1ec2_af90_2f10_8bd3);
    }

    #[test]
    fn failover_fits_in_two_intervals() {
        for interval in [1_000u64, 5_000, 60_000, 86_400_000] {
            let worst = replica_ttl(interval) + heartbeat_period(interval);
            assert!(
                worst < Duration::from_millis(2 * interval),
                "{interval}: {worst:?}"
            );
        }
        assert_eq!(heartbeat_period(100), Duration::from_millis(250));
        assert!(validate_replica_name("h:7443").is_ok());
        assert!(validate_replica_name("").is_err());
        assert!(validate_replica_name("a b").is_err());
        assert!(validate_replica_name(&"x".repeat(129)).is_err());
    }
}
