//! A kept-open HTTPS connection to a machine's Docker Engine, for cheap repeated GETs
//! (the monitor asks `/info` of every machine every few seconds).
//!
//! bollard's TLS client keeps no idle connections (its pool is sized 0), so each request
//! pays a TCP connect and a full TLS handshake with a client certificate: fine for
//! operations, most of the cost when done per machine per round. This holds one HTTP/1.1
//! keep-alive connection and makes a new one only after an error.

use std::path::Path;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::de::DeserializeOwned;

use super::DockerError;

/// Largest answer read (an `/info` is a few KiB).
const MAX_BODY: usize = 4 << 20;

pub struct KeptConnection {
    url: String,
    /// `host:port`
    addr: String,
    server_name: ServerName<'static>,
    tls: tokio_rustls::TlsConnector,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl KeptConnection {
    /// `url` is `tcp://IP:2376`; `cert_dir` holds ca.pem, cert.pem and key.pem. The files
    /// are read now; nothing touches the network until the first request.
    pub fn new(url: &str, cert_dir: &Path) -> Result<KeptConnection, DockerError> {
        let err = |reason: String| DockerError::Api {
            url: url.to_string(),
            reason,
        };
        let addr = super::tls_addr(url).map_err(err)?;
        let host = match addr.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']').to_string(),
            None => addr.clone(),
        };
        let server_name =
            ServerName::try_from(host).map_err(|e| err(format!("bad host in {url:?}: {e}")))?;
        let read = |name: &str| {
            let path = cert_dir.join(name);
            std::fs::read(&path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))
        };
        let (ca, cert, key) = (read("ca.pem")?, read("cert.pem")?, read("key.pem")?);
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&ca) {
            let c = c.map_err(|e| err(format!("ca.pem: {e}")))?;
            roots.add(c).map_err(|e| err(format!("ca.pem: {e}")))?;
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("cert.pem: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| err(format!("key.pem: {e}")))?;
        // The provider is named, not taken from the process default, which another part
        // of the program may or may not have installed.
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| err(format!("client certificate: {e}")))?;
        Ok(KeptConnection {
            url: url.to_string(),
            addr,
            server_name,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            sender: None,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn err(&self, reason: impl Into<String>) -> DockerError {
        DockerError::Api {
            url: self.url.clone(),
            reason: reason.into(),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, DockerError> {
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(|e| self.err(format!("tcp connect error: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| self.err(format!("TLS handshake: {e}")))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.err(format!("http handshake: {e}")))?;
        // The connection's I/O runs here until either side closes it.
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!("docker keep-alive connection ended: {e}");
            }
        });
        Ok(sender)
    }

    /// GETs `path` (e.g. `/info`: unversioned paths answer at the engine's own API
    /// version) and parses the JSON answer. Any failure drops the connection; the next
    /// call makes a new one.
    pub async fn get_json<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, DockerError> {
        let result = self.get(path).await;
        if result.is_err() {
            self.sender = None;
        }
        let body = result?;
        serde_json::from_slice(&body).map_err(|e| self.err(format!("unreadable answer: {e}")))
    }

    async fn get(&mut self, path: &str) -> Result<Bytes, DockerError> {
        let reusable = match self.sender.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            self.sender = Some(self.connect().await?);
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(self.err("no connection"));
        };
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, self.addr.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(|e| DockerError::Api {
                url: self.url.clone(),
                reason: format!("bad request: {e}"),
            })?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| self.err(format!("request failed: {e}")))?;
        let status = res.status();
        let body = http_body_util::Limited::new(res.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| self.err(format!("reading the answer: {e}")))?
            .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(self.err(format!(
                "Docker responded with status code {}: {}",
                status.as_u16(),
                text.trim()
            )));
        }
        Ok(body)
    }
}
