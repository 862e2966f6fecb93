//! The REST API's wire contract beyond the bodies in the other modules: route paths,
//! query strings, small request bodies and header names. The server mounts and parses
//! exactly these; the client builds its requests from exactly these; so the two sides
//! cannot drift apart.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use super::{Error, Role};

/// Header carrying the API version both ways.
pub const VERSION_HEADER: &str = "flotilla-api-version";
/// Header carrying the newest event id the server has seen, so a client can follow the
/// event stream from the moment of its last request.
pub const LAST_EVENT_HEADER: &str = "flotilla-last-event";
/// The SSE header a reconnecting client names the last event it saw with.
pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";

/// A route of the API as a pattern with `{param}` segments (axum's syntax): the server
/// mounts the pattern, the client fills it in with [`Route::at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route(pub &'static str);

/// Everything but the unreserved characters of RFC 3986 is escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (the API's only path encoder).
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

impl Route {
    pub const fn pattern(self) -> &'static str {
        self.0
    }

    /// The path with each `{param}` replaced, in order, by an encoded value. A missing
    /// value leaves an empty segment, which no route matches (the server answers 404).
    pub fn at(self, params: &[&str]) -> String {
        let mut values = params.iter();
        self.0
            .split('/')
            .map(|part| {
                if part.starts_with('{') && part.ends_with('}') {
                    values.next().map(|v| segment(v)).unwrap_or_default()
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Every route, by name. The router mounts these; a test checks the document lists
/// each one.
pub mod routes {
    use super::Route;

    pub const VERSION: Route = Route("/v1/version");
    pub const OPENAPI: Route = Route("/v1/openapi.json");
    pub const WHOAMI: Route = Route("/v1/whoami");
    pub const MACHINES: Route = Route("/v1/machines");
    pub const MACHINE_BRIEFS: Route = Route("/v1/machine-briefs");
    pub const MACHINE: Route = Route("/v1/machines/{name}");
    pub const MACHINE_STATUS: Route = Route("/v1/machines/{name}/status");
    pub const MACHINE_START: Route = Route("/v1/machines/{name}/start");
    pub const MACHINE_STOP: Route = Route("/v1/machines/{name}/stop");
    pub const MACHINE_RESTART: Route = Route("/v1/machines/{name}/restart");
    pub const MACHINE_KILL: Route = Route("/v1/machines/{name}/kill");
    pub const MACHINE_PROVISION: Route = Route("/v1/machines/{name}/provision");
    pub const MACHINE_REGENERATE_CERTS: Route = Route("/v1/machines/{name}/regenerate-certs");
    pub const MACHINE_CLIENT_CONFIG: Route = Route("/v1/machines/{name}/client-config");
    pub const MACHINE_SSH_ACCESS: Route = Route("/v1/machines/{name}/ssh-access");
    pub const MACHINE_HEALTH_HISTORY: Route = Route("/v1/machines/{name}/health-history");
    pub const MACHINE_LOG: Route = Route("/v1/machines/{name}/logs/{log}");
    pub const MACHINE_USER_DATA: Route = Route("/v1/machines/{name}/user-data");
    pub const MACHINE_ENGINE_ENV: Route = Route("/v1/machines/{name}/engine-env");
    pub const OS_PROFILES: Route = Route("/v1/os-profiles");
    pub const OPERATIONS: Route = Route("/v1/operations");
    pub const OPERATION: Route = Route("/v1/operations/{id}");
    pub const OPERATION_CANCEL: Route = Route("/v1/operations/{id}/cancel");
    pub const EVENTS: Route = Route("/v1/events");
    pub const EVENTS_STREAM: Route = Route("/v1/events/stream");
    pub const HEALTH: Route = Route("/v1/health");
    pub const MONITOR: Route = Route("/v1/monitor");
    pub const REPLICAS: Route = Route("/v1/replicas");
    pub const SWARMS: Route = Route("/v1/swarms");
    pub const SWARM: Route = Route("/v1/swarms/{name}");
    pub const SWARM_SCALE: Route = Route("/v1/swarms/{name}/scale");
    pub const SWARM_JOIN: Route = Route("/v1/swarms/{name}/join");
    pub const SWARM_ROTATE_TOKENS: Route = Route("/v1/swarms/{name}/rotate-tokens");
    pub const SWARM_CLIENT_CONFIG: Route = Route("/v1/swarms/{name}/client-config");
    pub const SWARM_SERVICES: Route = Route("/v1/swarms/{name}/services");
    pub const SWARM_AUTOSCALE: Route = Route("/v1/swarms/{name}/autoscale");
    pub const TOKENS: Route = Route("/v1/tokens");
    pub const TOKEN: Route = Route("/v1/tokens/{id}");
    pub const AUDIT: Route = Route("/v1/audit");
    pub const AUDIT_RETENTION: Route = Route("/v1/audit/retention");
    pub const IMPORTS: Route = Route("/v1/imports");
    // docker-machine parity
    pub const MACHINE_UPGRADE: Route = Route("/v1/machines/{name}/upgrade");
}

/// `?force=`: go on past hosts that cannot be reached (removals).
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForceQuery {
    #[serde(default)]
    pub force: bool,
}

/// `GET /v1/operations?limit=`: how many of the newest operations.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OperationsQuery {
    #[serde(default = "OperationsQuery::default_limit")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: u32,
}

impl OperationsQuery {
    fn default_limit() -> u32 {
        100
    }
}

impl Default for OperationsQuery {
    fn default() -> Self {
        OperationsQuery {
            limit: Self::default_limit(),
        }
    }
}

/// `GET /v1/health`: which machines, and whether to check them first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// Comma-separated machine names; none: every machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<String>,
    #[serde(default)]
    pub check_now: bool,
}

impl HealthQuery {
    pub fn new(names: &[String], check_now: bool) -> Self {
        HealthQuery {
            names: (!names.is_empty()).then(|| names.join(",")),
            check_now,
        }
    }

    /// The names asked for, each checked (empty: every machine).
    pub fn names(&self) -> Result<Vec<String>, Error> {
        let names: Vec<String> = self
            .names
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        for n in &names {
            super::validate_name(n)?;
        }
        Ok(names)
    }
}

/// `GET /v1/events/stream?after=`: replay the recorded events after this id first
/// (`Last-Event-ID` wins when both are given).
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
}

/// `POST /v1/machines/{name}/provision`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionBody {
    /// Accept a host key that differs from the pinned one (a rebuilt host).
    #[serde(default)]
    pub trust_new_host_key: bool,
}

/// `POST /v1/machines/{name}/regenerate-certs`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateBody {
    /// Also reissue the fleet's client certificate.
    #[serde(default)]
    pub client: bool,
}

/// `POST /v1/swarms/{name}/join`: adopt a machine as a manager or a worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub machine: String,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fill_in_encoded_segments() {
        assert_eq!(routes::MACHINE.at(&["web-1"]), "/v1/machines/web-1");
        assert_eq!(
            routes::MACHINE_START.at(&["a/b c"]),
            "/v1/machines/a%2Fb%20c/start"
        );
        assert_eq!(routes::MACHINES.at(&[]), "/v1/machines");
        assert_eq!(segment("é~x"), "%C3%A9~x");
    }

    #[test]
    fn queries_round_trip_through_the_url_encoding() {
        let q = HealthQuery::new(&["a".into(), "b".into()], true);
        let text = serde_urlencoded::to_string(&q).unwrap();
        let back: HealthQuery = serde_urlencoded::from_str(&text).unwrap();
        assert_eq!(back.names().unwrap(), vec!["a", "b"]);
        assert!(back.check_now);
        let none: HealthQuery = serde_urlencoded::from_str("").unwrap();
        assert!(none.names().unwrap().is_empty());
        let bad: HealthQuery = serde_urlencoded::from_str("names=a,b%2Fc").unwrap();
        assert!(bad.names().is_err());
        let ops: OperationsQuery = serde_urlencoded::from_str("").unwrap();
        assert_eq!(ops.limit, 100);
    }
}

/// `POST /v1/machines/{name}/engine-env`: the machine's `--engine-env` with its values
/// unsealed (operators, audited; everywhere else each value reads `<sealed>`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct EngineEnv {
    #[schema(value_type = Vec<Vec<String>>)]
    pub env: Vec<(String, String)>,
}

/// `GET /v1/machines?after=&limit=&fields=`: a page of the machine list, by name, with
/// only the fields a client wants. Without any of them: the whole list (cached, ETag).
/// A page that is not the last carries `Link: <...?after=NAME&limit=N...>; rel="next"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MachineListQuery {
    /// Only machines whose name sorts after this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// At most this many machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
    /// Comma-separated top-level fields of each machine (e.g. `name,state,url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
}

/// The largest page of machines one request returns.
pub const MAX_MACHINE_PAGE: u32 = 10_000;

/// The fields of a [`super::Machine`] a list can be narrowed to (`?fields=`).
pub const MACHINE_FIELDS: &[&str] = &[
    "name",
    "driver",
    "state",
    "error",
    "ip",
    "url",
    "docker_version",
    "swarm",
    "hostname",
    "ssh_user",
    "ssh_port",
    "host_key_fingerprint",
    "spec",
    "driver_data",
    "created_ms",
    "observed_ms",
];

impl MachineListQuery {
    /// Asks for the whole list, every field (the cached answer).
    pub fn is_whole(&self) -> bool {
        self.after.is_none() && self.limit.is_none() && self.fields.is_none()
    }

    /// Checks the bounds; returns the fields asked for (None: all).
    pub fn validate(&self) -> super::Result<Option<Vec<&str>>> {
        if let Some(limit) = self.limit {
            if !(1..=MAX_MACHINE_PAGE).contains(&limit) {
                return Err(super::Error::invalid(format!(
                    "limit={limit} is out of range: use 1 to {MAX_MACHINE_PAGE}"
                )));
            }
        }
        if let Some(after) = &self.after {
            super::validate_name(after).map_err(|_| {
                super::Error::invalid(format!("after={after:?} is not a machine name"))
            })?;
        }
        let Some(fields) = &self.fields else {
            return Ok(None);
        };
        let mut wanted = Vec::new();
        for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            if !MACHINE_FIELDS.contains(&field) {
                return Err(super::Error::invalid(format!(
                    "fields: no field {field:?}: use some of {}",
                    MACHINE_FIELDS.join(",")
                )));
            }
            if !wanted.contains(&field) {
                wanted.push(field);
            }
        }
        if wanted.is_empty() {
            return Err(super::Error::invalid(format!(
                "fields is empty: name some of {}",
                MACHINE_FIELDS.join(",")
            )));
        }
        Ok(Some(wanted))
    }
}

#[cfg(test)]
mod machine_list_query_tests {
    use super::*;

    #[test]
    fn the_list_fields_are_the_machine_fields_and_bounds_hold() {
        let m = crate::api::Machine::planned(&crate::api::MachineSpec::new("a", "container"), 1);
        let value = serde_json::to_value(&m).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = MACHINE_FIELDS.to_vec();
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);

        let q = |after: Option<&str>, limit: Option<u32>, fields: Option<&str>| MachineListQuery {
            after: after.map(str::to_string),
            limit,
            fields: fields.map(str::to_string),
        };
        assert!(q(None, None, None).is_whole());
        assert_eq!(
            q(None, Some(10), Some("name, state,name"))
                .validate()
                .unwrap(),
            Some(vec!["name", "state"])
        );
        for bad in [
            q(None, Some(0), None),
            q(None, Some(MAX_MACHINE_PAGE + 1), None),
            q(Some("../x"), None, None),
            q(None, None, Some("name,password")),
            q(None, None, Some(" , ")),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains("use") || e.contains("name"), "{e}");
        }
    }
}
