//! `GET /v1/machines` from a cache: the list is serialized once per change of the
//! machines table (the store's `machines_version`, which any process sharing the store
//! moves), with a strong ETag from its content, `304 Not Modified` for a client that has
//! it already, and gzip made once for clients that ask for it. Teams poll this route
//! (every TUI does), so a repeated list costs a version read, not a serialization.

use std::io::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::api::rest::{routes, MachineListQuery, MAX_MACHINE_PAGE};
use crate::api::{Error, FleetAdmin, Machine};

/// One serialized list and what answers for it.
struct Serialized {
    version: u64,
    /// A machine in it is creating, provisioning or removing: listing again may find its
    /// owner gone and settle it (which moves the version), so this entry is not reused.
    transitional: bool,
    etag: HeaderValue,
    json: Bytes,
    gzip: Bytes,
    /// The list itself, by name: pages and narrowed lists are cut from it.
    machines: Arc<Vec<Machine>>,
    /// `Link: <...>; rel="next"` of a page that is not the last.
    next: Option<HeaderValue>,
}

#[derive(Default)]
pub(crate) struct ListCache {
    slot: tokio::sync::Mutex<Option<Arc<Serialized>>>,
}

impl ListCache {
    /// The answer to a list request with this query and these headers: the whole list
    /// as serialized once, or a page / narrowed list cut from it.
    /// `version`: the machines version this request already read, if it did.
    pub async fn answer(
        &self,
        fleet: &dyn FleetAdmin,
        version: Option<u64>,
        query: &MachineListQuery,
        request: &HeaderMap,
    ) -> Result<Response, ApiError> {
        let fields = query.validate()?;
        let list = self.current(fleet, version).await?;
        if query.is_whole() {
            return Ok(respond(&list, request));
        }
        Ok(respond(&cut(&list, query, fields.as_deref())?, request))
    }

    /// The serialized list of the store's current version.
    async fn current(
        &self,
        fleet: &dyn FleetAdmin,
        version: Option<u64>,
    ) -> Result<Arc<Serialized>, ApiError> {
        let version = match version {
            Some(v) => Some(v),
            None => fleet.machines_version().await?,
        };
        let list = match version {
            Some(version) => {
                // Held while a new list is made, so a burst after a change makes it once.
                let mut slot = self.slot.lock().await;
                match slot
                    .as_ref()
                    .filter(|s| s.version == version && !s.transitional)
                {
                    Some(fresh) => fresh.clone(),
                    None => {
                        // Read the version before the list: a change in between moves
                        // the version again, so this entry can only be older, never stale.
                        let made = Arc::new(serialize(fleet, version).await?);
                        *slot = Some(made.clone());
                        made
                    }
                }
            }
            None => Arc::new(serialize(fleet, 0).await?),
        };
        Ok(list)
    }
}

/// A page of `list` (names after `query.after`, at most `query.limit`), each machine
/// narrowed to `fields`, with a `Link` to the next page when there is one.
fn cut(
    list: &Serialized,
    query: &MachineListQuery,
    fields: Option<&[&str]>,
) -> Result<Serialized, ApiError> {
    let machines = &list.machines;
    let start = match &query.after {
        Some(after) => machines.partition_point(|m| m.name.as_str() <= after.as_str()),
        None => 0,
    };
    let limit = query.limit.unwrap_or(MAX_MACHINE_PAGE) as usize;
    let end = machines.len().min(start.saturating_add(limit));
    let page = &machines[start..end];
    let json = match fields {
        None => serde_json::to_vec(page),
        Some(fields) => {
            let narrowed: Vec<serde_json::Map<String, serde_json::Value>> = page
                .iter()
                .map(|m| match serde_json::to_value(m) {
                    Ok(serde_json::Value::Object(mut all)) => {
                        Ok(fields.iter().filter_map(|f| all.remove_entry(*f)).collect())
                    }
                    Ok(_) => Ok(serde_json::Map::new()),
                    Err(e) => Err(e),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| Error::internal(format!("cannot serialize a machine: {e}")))?;
            serde_json::to_vec(&narrowed)
        }
    }
    .map_err(|e| Error::internal(format!("cannot serialize the machine list: {e}")))?;
    let mut made = finish(json, list.version, list.transitional, Arc::new(Vec::new()))?;
    if end < machines.len() {
        let mut next = MachineListQuery {
            after: page.last().map(|m| m.name.clone()),
            ..query.clone()
        };
        next.limit = Some(limit as u32);
        let qs = serde_urlencoded::to_string(&next)
            .map_err(|e| Error::internal(format!("a next-page link: {e}")))?;
        made.next = Some(
            HeaderValue::from_str(&format!(
                "<{}?{qs}>; rel=\"next\"",
                routes::MACHINES.pattern()
            ))
            .map_err(|e| Error::internal(format!("a next-page link: {e}")))?,
        );
    }
    Ok(made)
}

async fn serialize(fleet: &dyn FleetAdmin, version: u64) -> Result<Serialized, ApiError> {
    let machines = fleet.list().await?;
    let transitional = machines.iter().any(|m| m.state.is_transitional());
    let json = serde_json::to_vec(&machines)
        .map_err(|e| Error::internal(format!("cannot serialize the machine list: {e}")))?;
    finish(json, version, transitional, Arc::new(machines))
}

/// The ETag and gzip of a serialized body.
fn finish(
    json: Vec<u8>,
    version: u64,
    transitional: bool,
    machines: Arc<Vec<Machine>>,
) -> Result<Serialized, ApiError> {
    let digest = Sha256::digest(&json);
    let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
        .map_err(|e| Error::internal(format!("an ETag: {e}")))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&json)
        .and_then(|_| gz.finish())
        .map(|gzip| Serialized {
            version,
            transitional,
            etag,
            json: Bytes::from(json),
            gzip: Bytes::from(gzip),
            machines,
            next: None,
        })
        .map_err(|e| Error::internal(format!("cannot compress the machine list: {e}")).into())
}

fn respond(list: &Serialized, request: &HeaderMap) -> Response {
    let not_modified = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag.as_bytes() == list.etag.as_bytes());
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, list.etag.clone());
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // Clients may keep the list but must ask again each time (a 304 is cheap).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(next) = &list.next {
        headers.insert(header::LINK, next.clone());
    }
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if accepts_gzip(request) {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (headers, list.gzip.clone()).into_response();
    }
    (headers, list.json.clone()).into_response()
}

/// `Accept-Encoding` names gzip without refusing it (`q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn gzip_is_sent_only_to_who_takes_it() {
        assert!(accepts_gzip(&headers(&[("accept-encoding", "gzip")])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br, GZIP;q=0.5"
        )])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "*")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "br, zstd")])));
        assert!(!accepts_gzip(&headers(&[])));
    }
}
