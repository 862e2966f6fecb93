//! The OpenAPI 3 document at /v1/openapi.json, made from the route table below (the
//! same routes `routes::router` serves; a test checks they agree).

use axum::Json;
use serde_json::{json, Value};

use crate::api::{
    AccessRole, AuditEntry, ClientConfig, Error, Event, EventKind, EventPage, Health, HealthSample,
    Identity, Machine, MachineState, NewToken, Operation, ServerInfo, SshAccess, Swarm,
    SwarmService, TokenInfo, API_VERSION,
};

/// The api types the routes answer with; utoipa adds every type they refer to.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    AccessRole,
    AuditEntry,
    ClientConfig,
    Error,
    Event,
    EventKind,
    EventPage,
    Health,
    HealthSample,
    Identity,
    Machine,
    MachineState,
    NewToken,
    Operation,
    ServerInfo,
    SshAccess,
    Swarm,
    SwarmService,
    TokenInfo,
)))]
struct Schemas;

/// components/schemas, generated from the api types.
fn schemas() -> Value {
    let components = <Schemas as utoipa::OpenApi>::openapi()
        .components
        .unwrap_or_default();
    serde_json::to_value(components.schemas).unwrap_or_else(|_| json!({}))
}

/// The schema of a route's success body (see [`Route`]).
fn response_schema(name: &str) -> Value {
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(item) => {
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}})
        }
        None if name.is_empty() => json!({}),
        None => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

/// method, path, role needed (None: no token), summary, request body schema, success status,
/// success body: a schema under components/schemas (`"Machine"`), an array of one
/// (`"[Machine]"`), or `""` (no body, or one not described here).
type Route = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<fn() -> Value>,
    u16,
    &'static str,
);

pub const ROUTES: &[Route] = &[
    (
        "get",
        "/v1/version",
        None,
        "API version of the server",
        None,
        200,
        "ServerInfo",
    ),
    (
        "get",
        "/v1/openapi.json",
        None,
        "This document",
        None,
        200,
        "",
    ),
    (
        "get",
        "/v1/whoami",
        Some("viewer"),
        "Who the token belongs to",
        None,
        200,
        "Identity",
    ),
    (
        "get",
        "/v1/machines",
        Some("viewer"),
        "All machines, from the store",
        None,
        200,
        "[Machine]",
    ),
    (
        "post",
        "/v1/machines",
        Some("operator"),
        "Create a machine (an operation)",
        Some(machine_spec),
        202,
        "Operation",
    ),
    (
        "get",
        "/v1/machines/{name}",
        Some("viewer"),
        "One machine",
        None,
        200,
        "Machine",
    ),
    (
        "delete",
        "/v1/machines/{name}",
        Some("operator"),
        "Remove a machine (an operation); ?force=true",
        None,
        202,
        "Operation",
    ),
    (
        "get",
        "/v1/machines/{name}/status",
        Some("viewer"),
        "Ask the driver for the state now",
        None,
        200,
        "MachineState",
    ),
    (
        "post",
        "/v1/machines/{name}/start",
        Some("operator"),
        "Start and wait until Docker answers",
        None,
        200,
        "Machine",
    ),
    (
        "post",
        "/v1/machines/{name}/stop",
        Some("operator"),
        "Stop",
        None,
        200,
        "Machine",
    ),
    (
        "post",
        "/v1/machines/{name}/restart",
        Some("operator"),
        "Restart and wait until Docker answers",
        None,
        200,
        "Machine",
    ),
    (
        "post",
        "/v1/machines/{name}/kill",
        Some("operator"),
        "Stop at once",
        None,
        200,
        "Machine",
    ),
    (
        "post",
        "/v1/machines/{name}/provision",
        Some("operator"),
        "Provision again (an operation)",
        Some(provision_body),
        202,
        "Operation",
    ),
    (
        "post",
        "/v1/machines/{name}/regenerate-certs",
        Some("operator"),
        "New certificates (an operation)",
        Some(regenerate_body),
        202,
        "Operation",
    ),
    (
        "post",
        "/v1/machines/{name}/client-config",
        Some("operator"),
        "A client certificate for the caller, valid for a short time",
        None,
        200,
        "ClientConfig",
    ),
    (
        "post",
        "/v1/machines/{name}/ssh-access",
        Some("operator"),
        "An OpenSSH user certificate for the caller's key",
        Some(ssh_cert_request),
        200,
        "SshAccess",
    ),
    (
        "get",
        "/v1/machines/{name}/health-history",
        Some("viewer"),
        "Recent health samples",
        None,
        200,
        "[HealthSample]",
    ),
    (
        "get",
        "/v1/operations/{id}",
        Some("viewer"),
        "One operation",
        None,
        200,
        "Operation",
    ),
    (
        "get",
        "/v1/operations",
        Some("viewer"),
        "Running and recent operations, newest first (?limit, 1..=1000)",
        None,
        200,
        "[Operation]",
    ),
    (
        "post",
        "/v1/operations/{id}/cancel",
        Some("operator"),
        "Stop an operation at its next step",
        None,
        204,
        "",
    ),
    (
        "get",
        "/v1/events",
        Some("viewer"),
        "Recorded events (?after, ?since_ms, ?limit)",
        None,
        200,
        "EventPage",
    ),
    (
        "get",
        "/v1/events/stream",
        Some("viewer"),
        "Server-sent events; resumes after Last-Event-ID or ?after",
        None,
        200,
        "",
    ),
    (
        "get",
        "/v1/health",
        Some("viewer"),
        "Health of machines (?names=a,b&check_now=true)",
        None,
        200,
        "[Health]",
    ),
    (
        "post",
        "/v1/monitor",
        Some("operator"),
        "Reconfigure the server's monitor",
        Some(any_object),
        204,
        "",
    ),
    (
        "get",
        "/v1/swarms",
        Some("viewer"),
        "All swarms",
        None,
        200,
        "[Swarm]",
    ),
    (
        "post",
        "/v1/swarms",
        Some("operator"),
        "Create a swarm (an operation)",
        Some(any_object),
        202,
        "Operation",
    ),
    (
        "get",
        "/v1/swarms/{name}",
        Some("viewer"),
        "One swarm",
        None,
        200,
        "Swarm",
    ),
    (
        "delete",
        "/v1/swarms/{name}",
        Some("operator"),
        "Remove a swarm and its machines (an operation)",
        None,
        202,
        "Operation",
    ),
    (
        "post",
        "/v1/swarms/{name}/scale",
        Some("operator"),
        "Scale (an operation)",
        Some(any_object),
        202,
        "Operation",
    ),
    (
        "post",
        "/v1/swarms/{name}/join",
        Some("operator"),
        "Adopt a machine (an operation)",
        Some(join_body),
        202,
        "Operation",
    ),
    (
        "post",
        "/v1/swarms/{name}/rotate-tokens",
        Some("operator"),
        "New join tokens",
        None,
        204,
        "",
    ),
    (
        "get",
        "/v1/swarms/{name}/services",
        Some("viewer"),
        "The swarm's services as a manager sees them",
        None,
        200,
        "[SwarmService]",
    ),
    (
        "post",
        "/v1/swarms/{name}/client-config",
        Some("operator"),
        "A client certificate for the swarm's manager",
        None,
        200,
        "ClientConfig",
    ),
    (
        "get",
        "/v1/tokens",
        Some("admin"),
        "Tokens (never the secrets)",
        None,
        200,
        "[TokenInfo]",
    ),
    (
        "post",
        "/v1/tokens",
        Some("admin"),
        "Make a token; the secret is shown once",
        Some(token_spec),
        201,
        "NewToken",
    ),
    (
        "delete",
        "/v1/tokens/{id}",
        Some("admin"),
        "Revoke a token by id, or a user's tokens by name",
        None,
        200,
        "TokenInfo",
    ),
    (
        "get",
        "/v1/audit",
        Some("admin"),
        "The audit log (?since_ms, ?limit)",
        None,
        200,
        "[AuditEntry]",
    ),
];

const NAME: &str = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

fn machine_spec() -> Value {
    json!({
        "type": "object",
        "required": ["name", "driver"],
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "pattern": NAME},
            "driver": {"type": "string", "enum": ["container"]},
            "engine": {"type": "object"},
            "container": {"type": "object"},
            "tls_san": {"type": "array", "items": {"type": "string"}},
            "ssh_key_pem": {"type": "string"},
            "ssh_user": {"type": "string", "enum": ["root"]}
        }
    })
}

fn provision_body() -> Value {
    json!({"type": "object", "additionalProperties": false,
           "properties": {"trust_new_host_key": {"type": "boolean"}}})
}

fn regenerate_body() -> Value {
    json!({"type": "object", "additionalProperties": false,
           "properties": {"client": {"type": "boolean"}}})
}

fn ssh_cert_request() -> Value {
    json!({"type": "object", "required": ["public_key"], "additionalProperties": false,
           "properties": {"public_key": {"type": "string"}}})
}

fn join_body() -> Value {
    json!({"type": "object", "required": ["machine", "role"], "additionalProperties": false,
           "properties": {"machine": {"type": "string", "pattern": NAME},
                          "role": {"type": "string", "enum": ["manager", "worker"]}}})
}

fn token_spec() -> Value {
    json!({"type": "object", "required": ["name", "role"], "additionalProperties": false,
           "properties": {"name": {"type": "string", "pattern": "^[A-Za-z0-9_.@-]{1,64}$"},
                          "role": {"type": "string", "enum": ["viewer", "operator", "admin"]},
                          "ttl_secs": {"type": "integer", "minimum": 0}}})
}

fn any_object() -> Value {
    json!({"type": "object"})
}

/// The document.
pub fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, role, summary, body, ok, answer) in ROUTES {
        let mut params = Vec::new();
        for p in ["name", "id"] {
            if path.contains(&format!("{{{p}}}")) {
                params.push(json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        let error = json!({"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut responses = serde_json::Map::new();
        let ok_content = if *ok == 204 {
            json!({"description": "done"})
        } else if path.ends_with("/stream") {
            json!({"description": "ok", "content": {"text/event-stream": {"schema": {"type": "object", "properties": {"data": {"type": "string"}, "event": {"type": "string"}, "id": {"type": "string"}}, "required": ["data"]}}}})
        } else {
            json!({"description": "ok", "content": {"application/json": {"schema": response_schema(answer)}}})
        };
        responses.insert(ok.to_string(), ok_content);
        for code in ["400", "404", "405", "409", "413", "415", "502"] {
            responses.insert(code.into(), error.clone());
        }
        if role.is_some() {
            responses.insert("401".into(), error.clone());
            responses.insert("403".into(), error.clone());
        }
        let mut op = json!({
            "summary": summary,
            "operationId": format!("{method}{}", path.replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "responses": responses,
            "x-required-role": role,
        });
        if role.is_none() {
            op["security"] = json!([]);
        }
        if let Some(schema) = body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema()}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "flotilla machine server", "version": API_VERSION,
                 "description": "Machines, swarms, health, operations and events of a shared fleet. Bodies are flotilla's api types."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        },
        "security": [{"bearer": []}]
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_once() {
        let doc = build();
        let paths = doc["paths"].as_object().unwrap();
        let ops: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(ops, ROUTES.len());
        assert!(paths["/v1/machines"]["post"]["requestBody"].is_object());
        assert_eq!(paths["/v1/tokens"]["get"]["x-required-role"], "admin");
    }

    #[test]
    fn responses_reference_generated_schemas() {
        let doc = build();
        let ok = &doc["paths"]["/v1/machines"]["get"]["responses"]["200"];
        let schema = &ok["content"]["application/json"]["schema"];
        assert_eq!(schema["type"], "array");
        assert_eq!(schema["items"]["$ref"], "#/components/schemas/Machine");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "Machine",
            "MachineSpec",
            "Operation",
            "Error",
            "Swarm",
            "Event",
        ] {
            assert!(schemas.contains_key(name), "no schema {name}");
        }
        // Every $ref points at a schema that is there.
        let text = doc.to_string();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
        let err = &doc["paths"]["/v1/machines/{name}"]["get"]["responses"]["404"];
        assert_eq!(
            err["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
    }
}
