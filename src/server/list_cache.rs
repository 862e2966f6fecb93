//! `GET /v1/machines` from a cache: the list is serialized once per change of the
//! machines table (the store's `machines_version`, which any process sharing the store
//! moves), with a strong ETag from its content (one per content coding, as RFC 9110
//! 8.8.3 asks of a strong validator: `"<digest>"`, `"<digest>-gzip"`, `"<digest>-zstd"`),
//! `304 Not Modified` for a client that has it already in any coding, and zstd or gzip
//! made once, for the first client that asks for each.
//! Teams poll this route (every TUI does), so a repeated list costs a version read, not
//! a serialization or a compression.

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
    /// The digest of the plain body, in hex: the ETag of each coding is made from it.
    digest: String,
    json: Bytes,
    /// Made when first asked for (a page is cut for one request: only what it asks).
    gzip: std::sync::OnceLock<Bytes>,
    zstd: std::sync::OnceLock<Bytes>,
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

/// A body made for one request (not kept), answered as the list is: its ETag, a 304
/// for a client that has it, compressed when asked.
pub(crate) fn respond_once(json: Vec<u8>, request: &HeaderMap) -> Result<Response, ApiError> {
    Ok(respond(
        &finish(json, 0, true, Arc::new(Vec::new()))?,
        request,
    ))
}

/// A serialized body with its digest.
fn finish(
    json: Vec<u8>,
    version: u64,
    transitional: bool,
    machines: Arc<Vec<Machine>>,
) -> Result<Serialized, ApiError> {
    let digest = hex::encode(&Sha256::digest(&json)[..16]);
    Ok(Serialized {
        version,
        transitional,
        digest,
        json: Bytes::from(json),
        gzip: std::sync::OnceLock::new(),
        zstd: std::sync::OnceLock::new(),
        machines,
        next: None,
    })
}

impl Serialized {
    /// The strong ETag of the body in `coding`: the bytes differ, so the tag does.
    fn etag(&self, coding: Coding) -> HeaderValue {
        let tag = match coding.header() {
            None => format!("\"{}\"", self.digest),
            Some(name) => format!("\"{}-{name}\"", self.digest),
        };
        // Hex digits, a dash and a coding's name: always a valid header value.
        HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
    }

    /// `tag` names this list in some coding (or is `*`): a client holding it has the
    /// current content, whichever coding it was sent in.
    fn is_named_by(&self, tag: &str) -> bool {
        let tag = tag.trim().trim_start_matches("W/");
        if tag == "*" {
            return true;
        }
        let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return false;
        };
        let digest = [Coding::Gzip, Coding::Zstd]
            .iter()
            .filter_map(|c| c.header())
            .find_map(|name| inner.strip_suffix(name)?.strip_suffix('-'))
            .unwrap_or(inner);
        digest == self.digest
    }

    /// The body in `coding`, compressed the first time it is asked for. Compression of
    /// bytes in memory does not fail in practice; if it did, the plain body is sent
    /// (and the caller says so in its headers), never an error.
    fn body(&self, coding: Coding) -> (Coding, Bytes) {
        let made = match coding {
            Coding::Identity => None,
            Coding::Zstd => Some(self.zstd.get_or_init(|| {
                zstd::bulk::compress(&self.json, ZSTD_LEVEL)
                    .map(Bytes::from)
                    .unwrap_or_default()
            })),
            Coding::Gzip => Some(self.gzip.get_or_init(|| {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&self.json)
                    .and_then(|_| gz.finish())
                    .map(Bytes::from)
                    .unwrap_or_default()
            })),
        };
        match made {
            Some(body) if !body.is_empty() || self.json.is_empty() => (coding, body.clone()),
            _ => (Coding::Identity, self.json.clone()),
        }
    }

    /// The coding [`Serialized::body`] would send for `coding`, without making it.
    fn coding_for(&self, coding: Coding) -> Coding {
        let made = match coding {
            Coding::Identity => None,
            Coding::Gzip => self.gzip.get(),
            Coding::Zstd => self.zstd.get(),
        };
        match made {
            Some(body) if body.is_empty() && !self.json.is_empty() => Coding::Identity,
            _ => coding,
        }
    }
}

/// zstd's level for lists: fast (a 670 KB list in ~2 ms) and still ~10x smaller.
const ZSTD_LEVEL: i32 = 3;

fn respond(list: &Serialized, request: &HeaderMap) -> Response {
    let not_modified = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| list.is_named_by(tag));
    let (coding, body) = if not_modified {
        // No body to make: the tag is the one the coding would have.
        (list.coding_for(Coding::chosen(request)), Bytes::new())
    } else {
        list.body(Coding::chosen(request))
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, list.etag(coding));
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
    if let Some(name) = coding.header() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
    }
    (headers, body).into_response()
}

/// A content coding the list is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Zstd,
}

impl Coding {
    fn header(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Zstd => Some("zstd"),
        }
    }

    /// What `Accept-Encoding` prefers (RFC 9110 12.5.3): the coding with the highest
    /// q-value, where one not named takes `*`'s and `q=0` refuses; zstd over gzip when
    /// they tie (smaller, and quicker to unpack); none without the header.
    fn chosen(request: &HeaderMap) -> Coding {
        let mut named: Vec<(String, f32)> = Vec::new();
        for value in request
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            for coding in value.split(',') {
                let mut parts = coding.split(';').map(str::trim);
                let name = parts.next().unwrap_or("").to_ascii_lowercase();
                if name.is_empty() {
                    continue;
                }
                let q = parts
                    .find_map(|p| p.strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.parse::<f32>().ok())
                    .filter(|q| (0.0..=1.0).contains(q))
                    .unwrap_or(0.0);
                named.push((name, q));
            }
        }
        let star = named.iter().find(|(n, _)| n == "*").map(|(_, q)| *q);
        let q_of = |coding: &str| {
            named
                .iter()
                .find(|(n, _)| n == coding)
                .map(|(_, q)| *q)
                .or(star)
                .unwrap_or(0.0)
        };
        let (zstd, gzip) = (q_of("zstd"), q_of("gzip"));
        if zstd > 0.0 && zstd >= gzip {
            Coding::Zstd
        } else if gzip > 0.0 {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }
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
    fn the_coding_is_the_one_the_client_prefers() {
        let chosen = |v: &'static str| Coding::chosen(&headers(&[("accept-encoding", v)]));
        assert_eq!(chosen("gzip"), Coding::Gzip);
        assert_eq!(chosen("br, GZIP;q=0.5"), Coding::Gzip);
        assert_eq!(chosen("zstd"), Coding::Zstd);
        assert_eq!(chosen("gzip, zstd"), Coding::Zstd, "a tie goes to zstd");
        assert_eq!(chosen("gzip;q=1, zstd;q=0.5"), Coding::Gzip);
        assert_eq!(chosen("*"), Coding::Zstd);
        assert_eq!(chosen("*, zstd;q=0"), Coding::Gzip);
        assert_eq!(chosen("gzip;q=0"), Coding::Identity);
        assert_eq!(chosen("br"), Coding::Identity);
        assert_eq!(
            chosen("gzip;q=x"),
            Coding::Identity,
            "a bad q-value refuses"
        );
        assert_eq!(Coding::chosen(&headers(&[])), Coding::Identity);
    }
}
