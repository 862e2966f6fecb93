//! Errors as the API answers them: the status that fits, and the `api::Error` JSON
//! (`{"kind": ..., "message": ...}`) as the body, never a bare text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::{AccessRole, Error, ErrorKind};

/// An error answer. Handlers return it; extractors reject with it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: Error,
    /// For 403: the role the request needs.
    pub required_role: Option<AccessRole>,
}

/// The error's one line, left on the response for the audit log.
#[derive(Debug, Clone)]
pub struct ErrorLine(pub String);

pub fn status_of(e: &Error) -> StatusCode {
    match e.kind() {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists | ErrorKind::Conflict | ErrorKind::Interrupted => {
            StatusCode::CONFLICT
        }
        ErrorKind::HostKeyChanged => StatusCode::CONFLICT,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Driver | ErrorKind::Ssh | ErrorKind::Provision | ErrorKind::Docker => {
            StatusCode::BAD_GATEWAY
        }
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Store | ErrorKind::Internal | ErrorKind::Other => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, error: Error) -> ApiError {
        ApiError {
            status,
            error,
            required_role: None,
        }
    }
    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, Error::invalid(msg.into()))
    }
    pub fn unauthorized(msg: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, Error::unauthorized(msg.into()))
    }
    pub fn forbidden(who: &str, has: AccessRole, needs: AccessRole) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            error: Error::forbidden(format!(
                "token {who:?} has role {has}, and this needs role {needs}: ask an admin for a token with role {needs}"
            )),
            required_role: Some(needs),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError::new(status_of(&error), error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, "{}", self.error);
        }
        let mut body = serde_json::to_value(&self.error).unwrap_or_else(
            |_| serde_json::json!({"kind": "internal", "message": self.error.to_string()}),
        );
        if let (Some(role), Some(map)) = (self.required_role, body.as_object_mut()) {
            map.insert("required_role".into(), role.as_str().into());
        }
        let line = ErrorLine(self.error.to_string());
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp.extensions_mut().insert(line);
        resp
    }
}
