//! The router and its OpenAPI 3.1 document, built from one list of handlers: each
//! handler's `#[utoipa::path]` says its method, path, parameters, body, answer and the
//! role it needs, and `utoipa_axum` mounts it at that path. What every route shares
//! (the error answers, the bearer scheme, `x-required-role` from the role) is added
//! here once.

use std::sync::{Arc, OnceLock};

use axum::Json;
use serde_json::{json, Value};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{events, routes as r, AppState};
use crate::api::rest::routes::OPENAPI;
use crate::api::{Error, Event, EventKind, API_VERSION};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "flotilla machine server",
        description = "Machines, swarms, health, operations and events of a shared fleet. Bodies are flotilla's api types."
    ),
    components(schemas(Error, Event, EventKind))
)]
struct ApiDoc;

/// The routes with their document (the document's own route is added by `router`).
fn parts() -> (axum::Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(r::version))
        .routes(routes!(r::whoami))
        .routes(routes!(r::list, r::create))
        .routes(routes!(r::briefs))
        .routes(routes!(r::machine, r::remove))
        .routes(routes!(r::status))
        .routes(routes!(r::start))
        .routes(routes!(r::stop))
        .routes(routes!(r::restart))
        .routes(routes!(r::kill))
        .routes(routes!(r::provision))
        .routes(routes!(r::regenerate_certs))
        .routes(routes!(r::client_config))
        .routes(routes!(r::ssh_access))
        .routes(routes!(r::health_history))
        .routes(routes!(r::machine_log))
        .routes(routes!(r::user_data))
        .routes(routes!(r::engine_env))
        .routes(routes!(r::os_profiles))
        .routes(routes!(r::operations))
        .routes(routes!(r::operation))
        .routes(routes!(r::cancel))
        .routes(routes!(r::events))
        .routes(routes!(events::stream))
        .routes(routes!(r::health))
        .routes(routes!(r::start_monitor))
        .routes(routes!(r::replicas))
        .routes(routes!(r::swarm_list, r::swarm_create))
        .routes(routes!(r::swarm_get, r::swarm_remove))
        .routes(routes!(r::swarm_scale))
        .routes(routes!(r::swarm_join))
        .routes(routes!(r::swarm_rotate_tokens))
        .routes(routes!(r::swarm_client_config))
        .routes(routes!(r::swarm_services))
        .routes(routes!(r::swarm_autoscale, r::set_swarm_autoscale))
        .routes(routes!(r::tokens, r::token_create))
        .routes(routes!(r::token_revoke))
        .routes(routes!(r::audit))
        .routes(routes!(r::audit_retention, r::set_audit_retention))
        .routes(routes!(r::import))
        // docker-machine parity
        .routes(routes!(r::upgrade))
        .routes(routes!(document))
        .split_for_parts()
}

/// Every route the server serves.
pub(crate) fn router() -> axum::Router<Arc<AppState>> {
    parts().0
}

/// The document at /v1/openapi.json.
pub fn build() -> Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| finish(parts().1)).clone()
}

/// This document (no token needed).
#[utoipa::path(get, path = OPENAPI.0, tag = "server", security(()),
    responses((status = 200, description = "this document", content_type = "application/json")))]
pub async fn document() -> Json<Value> {
    Json(build())
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// What every operation shares: the error answers, and the role it needs (its bearer
/// scope, which OpenAPI 3.1 allows to be a role name) as `x-required-role`.
fn finish(api: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    doc["openapi"] = json!("3.1.0");
    doc["info"]["version"] = json!(API_VERSION);
    doc["security"] = json!([{"bearer": []}]);
    doc["components"]["securitySchemes"] = json!({"bearer": {"type": "http", "scheme": "bearer"}});
    let error = json!({"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let Some(paths) = doc["paths"].as_object_mut() else {
        return doc;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let role = op
                .get("security")
                .and_then(|s| s.get(0))
                .and_then(|s| s.get("bearer"))
                .and_then(|s| s.get(0))
                .cloned();
            if role.is_none() {
                op.insert("security".into(), json!([]));
            }
            op.insert(
                "x-required-role".into(),
                role.clone().unwrap_or(Value::Null),
            );
            let responses = op.entry("responses").or_insert_with(|| json!({}));
            for code in ["400", "404", "405", "409", "413", "415", "502", "503"] {
                responses[code] = error.clone();
            }
            if role.is_some() {
                responses["401"] = error.clone();
                responses["403"] = error.clone();
                // Too many requests without a valid token from one address.
                responses["429"] = error.clone();
            }
            if path.ends_with("/stream") {
                responses["200"] = json!({"description": "server-sent events: each `data` is an Event (JSON), each `id` its id", "content": {"text/event-stream": {"schema": {"type": "object", "properties": {"data": {"type": "string"}, "event": {"type": "string"}, "id": {"type": "string"}}, "required": ["data"]}}}});
            }
        }
    }
    doc
}

/// (method, path) of every documented operation.
pub fn documented() -> Vec<(String, String)> {
    let doc = build();
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.push((method.to_string(), path.clone()));
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_bodies_come_from_the_handlers() {
        let doc = build();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(paths["/v1/machines"]["post"]["requestBody"].is_object());
        assert_eq!(paths["/v1/tokens"]["get"]["x-required-role"], "admin");
        assert_eq!(paths["/v1/machines"]["post"]["x-required-role"], "operator");
        assert_eq!(paths["/v1/machines"]["get"]["x-required-role"], "viewer");
        assert!(paths["/v1/version"]["get"]["x-required-role"].is_null());
        assert_eq!(paths["/v1/version"]["get"]["security"], json!([]));
    }

    #[test]
    fn validation_bounds_come_from_the_types() {
        let doc = build();
        let params = doc["paths"]["/v1/operations"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(limit["schema"]["maximum"], 1000);
        assert_eq!(limit["schema"]["minimum"], 1);
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
