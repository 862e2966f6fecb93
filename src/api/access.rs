//! Access to a shared fleet: roles, bearer tokens and the audit log. These are the
//! bodies of the server's /v1/tokens and /v1/audit routes, and what `flotilla token`
//! and `flotilla audit` show.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::Error;

/// The REST API's version. A client refuses a server whose major version differs.
pub const API_VERSION: &str = "1";
/// Prefix of every bearer token, so a leaked one is easy to recognise.
pub const TOKEN_PREFIX: &str = "flt_";
/// Prefix of every token's public id; no token name may start with it.
pub const TOKEN_ID_PREFIX: &str = "tok-";
/// The actor the embedded engine writes to the audit log; no token may be named so.
pub const LOCAL_ACTOR: &str = "local";
/// The shortest token lifetime: a token must outlive the command that uses it.
pub const MIN_TOKEN_TTL_SECS: u64 = 60;
/// The longest token lifetime given as a ttl: ten years (without one it never expires).
pub const MAX_TOKEN_TTL_SECS: u64 = 10 * 365 * 86_400;

/// What a token may do. Each role can do everything the one before it can.
#[derive(
    Debug,
    Clone,
    Copy,
    Serialize,
    Deserialize,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessRole {
    /// Read: list and inspect machines, swarms, health, operations and events.
    #[default]
    Viewer,
    /// Everything on machines and swarms, including `ssh` and `env`.
    Operator,
    /// Also tokens and the audit log.
    Admin,
}

impl AccessRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::Viewer => "viewer",
            AccessRole::Operator => "operator",
            AccessRole::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Result<AccessRole, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(AccessRole::Viewer),
            "operator" => Ok(AccessRole::Operator),
            "admin" => Ok(AccessRole::Admin),
            other => Err(Error::invalid(format!(
                "unknown role {other:?}: use viewer, operator or admin"
            ))),
        }
    }
}

impl fmt::Display for AccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token as the server keeps it: never the token itself, only facts about it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Short public id (`tok-...`), safe to show and log.
    pub id: String,
    /// Whose token it is: the user name certificates are issued to.
    pub name: String,
    pub role: AccessRole,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

impl TokenInfo {
    /// Usable now: not revoked and not expired.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.map_or(true, |e| e > now_ms)
    }
}

/// A request for a new token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    #[schema(pattern = "^[A-Za-z0-9_.@-]{1,64}$")]
    pub name: String,
    pub role: AccessRole,
    /// Seconds until the token expires; none: it lasts until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

impl TokenSpec {
    /// The one rule for a new token, wherever it is asked for: a valid name that is
    /// neither `local` (the embedded engine in the audit log) nor an id (`tok-...`, so
    /// revoking by one never hits the other), and a ttl from a minute to ten years.
    pub fn validate(&self) -> Result<(), Error> {
        validate_token_name(&self.name)?;
        let lower = self.name.to_ascii_lowercase();
        if lower == LOCAL_ACTOR || lower.starts_with(TOKEN_ID_PREFIX) {
            return Err(Error::invalid(format!(
                "the token name {:?} is reserved (`{LOCAL_ACTOR}` and `{TOKEN_ID_PREFIX}...` name the engine and token ids): pick another",
                self.name
            )));
        }
        if let Some(ttl) = self.ttl_secs {
            if !(MIN_TOKEN_TTL_SECS..=MAX_TOKEN_TTL_SECS).contains(&ttl) {
                return Err(Error::invalid(format!(
                    "a token's ttl must be between 1 minute and 10 years, not {ttl}s"
                )));
            }
        }
        Ok(())
    }
}

/// A token just made: the only time the secret is ever shown.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    /// `flt_...`: give it to its user; it cannot be shown again.
    pub token: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A token (user) name: like a machine name, it ends up in certificates.
pub fn validate_token_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid token name {name:?}: use 1-64 letters, digits and - _ . @"
        )))
    }
}

/// One entry of the append-only audit log: a change, or a credential handed out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix time in milliseconds.
    pub time_ms: i64,
    /// The token's public id, or none for a request without a valid token.
    pub token_id: Option<String>,
    /// The token's user name (or "local" for the embedded engine).
    pub actor: Option<String>,
    /// The client's address.
    pub remote: Option<String>,
    /// What was asked, e.g. `machine.create`, `token.revoke`, `machine.client_config`.
    pub action: String,
    /// What it was asked of (a machine, a token id ...).
    pub target: Option<String>,
    /// HTTP status of the answer.
    pub status: u16,
    /// `ok`, or the error's one line.
    pub outcome: String,
}

/// Filter for reading the audit log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries at or after this Unix time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// At most this many (the newest), default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// How long the audit log keeps its entries (`GET`/`PUT /v1/audit/retention`, admin):
/// entries older than `max_age_days`, and all but the newest `max_rows`, are pruned
/// when it is set and from then on every few minutes. Neither set keeps every entry
/// (the default). Changing it is itself audited, and so is each pruning.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRetention {
    /// Keep entries this many days (1-3650).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 3650)]
    pub max_age_days: Option<u32>,
    /// Keep at most this many of the newest entries (1000-100000000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1000, maximum = 100000000)]
    pub max_rows: Option<u64>,
}

impl AuditRetention {
    /// Ten years: longer is "keep all", which is the default.
    pub const MAX_AGE_DAYS: u32 = 3_650;
    /// Fewer would let one burst of requests push the evidence of an attack out at once.
    pub const MIN_ROWS: u64 = 1_000;
    pub const MAX_ROWS: u64 = 100_000_000;

    /// The one rule, whoever sends it (CLI, API): each bound within its range.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(d) = self.max_age_days {
            if !(1..=Self::MAX_AGE_DAYS).contains(&d) {
                return Err(Error::invalid(format!(
                    "invalid audit retention: max_age_days must be between 1 and {}, not {d}",
                    Self::MAX_AGE_DAYS
                )));
            }
        }
        if let Some(n) = self.max_rows {
            if !(Self::MIN_ROWS..=Self::MAX_ROWS).contains(&n) {
                return Err(Error::invalid(format!(
                    "invalid audit retention: max_rows must be between {} and {}, not {n}",
                    Self::MIN_ROWS,
                    Self::MAX_ROWS
                )));
            }
        }
        Ok(())
    }

    /// `90 days, 1000000 entries`, or `all entries`.
    pub fn describe(&self) -> String {
        match (self.max_age_days, self.max_rows) {
            (None, None) => "all entries".into(),
            (Some(d), None) => format!("{d} days"),
            (None, Some(n)) => format!("{n} entries"),
            (Some(d), Some(n)) => format!("{d} days, {n} entries"),
        }
    }
}

/// The answer to setting the audit retention: the setting, and how many entries it
/// pruned at once.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuditPruned {
    pub retention: AuditRetention,
    pub pruned: u64,
}

/// `POST /v1/machines/{name}/ssh-access`: the client's own public key, which the server
/// signs into a short-lived OpenSSH user certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SshCertRequest {
    /// OpenSSH public key line (`ssh-ed25519 AAAA...`).
    pub public_key: String,
}

/// `GET /v1/version`: what a client checks before anything else.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ServerInfo {
    pub api_version: String,
    /// flotilla's version on the server.
    pub version: String,
    pub fleet_id: String,
}

/// Where a fleet is and who uses it (`Fleet::backend`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Backend {
    /// `local` for the embedded engine, or the server's URL.
    pub location: String,
    /// The token's user on a server; none for the embedded engine.
    pub user: Option<String>,
    /// What the user may do (the embedded engine: admin, it is the fleet's owner).
    pub role: AccessRole,
    pub fleet_id: String,
}

impl Backend {
    pub fn is_local(&self) -> bool {
        self.location == "local"
    }
}

/// Who the presented token belongs to (`GET /v1/whoami`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Identity {
    pub token_id: String,
    pub name: String,
    pub role: AccessRole,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(
            AccessRole::Viewer < AccessRole::Operator && AccessRole::Operator < AccessRole::Admin
        );
        assert_eq!(AccessRole::parse("Operator").unwrap(), AccessRole::Operator);
        assert!(AccessRole::parse("root").is_err());
        assert_eq!(
            serde_json::to_string(&AccessRole::Admin).unwrap(),
            "\"admin\""
        );
    }

    #[test]
    fn token_names_are_checked() {
        for ok in ["alice", "ci-bot", "a.b@example.com", "x_1"] {
            assert!(validate_token_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", &"a".repeat(65), "é"] {
            assert!(validate_token_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_token_never_prints_its_secret() {
        let t = NewToken {
            info: TokenInfo {
                id: "tok-1".into(),
                name: "a".into(),
                role: AccessRole::Viewer,
                created_ms: 0,
                expires_ms: None,
                revoked_ms: None,
                last_used_ms: None,
            },
            token: "flt_secret".into(),
        };
        assert!(!format!("{t:?}").contains("flt_secret"));
    }
}
