//! A bug in a handler must not cost the answer or the audit row: a panic is caught
//! here, logged, and answered as a JSON 500 like any other error, so the audit layer
//! around it still records the request.

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

use super::error::ApiError;

pub async fn catch(req: Request, next: Next) -> Response {
    let action = format!("{} {}", req.method(), req.uri().path());
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            tracing::error!("a handler panicked on {action}: {what}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::api::Error::internal(
                    "the server hit a bug answering this request (it is logged): please report it",
                ),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;

    use crate::api::{AccessRole, AuditQuery, FleetAdmin, TokenSpec};
    use crate::server::{auth, AppState};

    /// The real audit and panic layers around a handler that panics (no real route
    /// panics any more; this stands for the next bug): the caller gets a JSON 500 and
    /// the request is in the audit log with its status.
    #[tokio::test]
    async fn a_panicking_handler_answers_json_500_and_is_audited() {
        let home = tempfile::tempdir().unwrap();
        let local =
            crate::engine::Local::open(crate::paths::Paths::at(home.path()), Default::default())
                .await
                .unwrap();
        let fleet: Arc<dyn FleetAdmin> = Arc::new(local.serving());
        let token = fleet
            .token_create(TokenSpec {
                name: "otto".into(),
                role: AccessRole::Operator,
                ttl_secs: None,
            })
            .await
            .unwrap();
        let state = Arc::new(AppState::new(
            fleet.clone(),
            Duration::from_secs(60),
            Duration::from_secs(60),
            0,
        ));
        let app: axum::Router = axum::Router::new()
            .route(
                "/v1/machines/{name}/boom",
                axum::routing::post(|| async {
                    if true {
                        panic!("boom");
                    }
                    "never"
                }),
            )
            .route_layer(axum::middleware::from_fn(super::catch))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::middleware,
            ))
            .with_state(state);
        let resp = app
            .oneshot(
                Request::post("/v1/machines/m1/boom")
                    .header(header::AUTHORIZATION, format!("Bearer {}", token.token))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["kind"], "internal", "{json}");
        assert!(json["message"].as_str().unwrap().contains("bug"), "{json}");
        let audit = fleet.audit(AuditQuery::default()).await.unwrap();
        assert!(
            audit.iter().any(|e| e.action == "machine.boom"
                && e.status == 500
                && e.actor.as_deref() == Some("otto")
                && e.target.as_deref() == Some("m1")),
            "{audit:#?}"
        );
    }
}
