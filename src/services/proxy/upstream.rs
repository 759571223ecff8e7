//! The HTTP client of one upstream: timeouts from the settings, redirects followed only inside the
//! upstream's origin, credentials added only for that origin, no content decoding (bodies pass
//! through byte for byte), and bounded document bodies.

use crate::config::{ProxySettings, UpstreamAuth};
use crate::error::AppError;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

/// An upstream answer to a document request.
pub enum DocAnswer {
    /// 200 with the whole body and the validators.
    Body {
        /// The body, as sent.
        body: Bytes,
        /// `ETag`.
        etag: Option<String>,
        /// `Last-Modified`.
        last_modified: Option<String>,
    },
    /// 304: the stored copy is current.
    NotModified,
    /// 404 or 410 (or another status the format treats as "no such thing").
    Missing,
}

/// Why an upstream exchange failed: the message for logs and clients, whether it was a timeout,
/// and a `Retry-After` the upstream asked for.
#[derive(Debug)]
pub struct UpstreamFailure {
    /// What went wrong, naming the upstream.
    pub message: String,
    /// A timeout (504) rather than a bad answer (502).
    pub timeout: bool,
    /// How long the upstream asked us to wait (429).
    pub retry_after: Option<Duration>,
}

impl UpstreamFailure {
    fn new(message: String) -> Self {
        UpstreamFailure {
            message,
            timeout: false,
            retry_after: None,
        }
    }

    /// The client-facing error.
    pub fn to_app_error(&self) -> AppError {
        if self.timeout {
            AppError::UpstreamTimeout(self.message.clone())
        } else if let Some(wait) = self.retry_after {
            AppError::UpstreamDown(format!(
                "{} (retry in {} s)",
                self.message,
                wait.as_secs().max(1)
            ))
        } else {
            AppError::Upstream(self.message.clone())
        }
    }
}

/// A reqwest client configured for one upstream.
pub struct Client {
    http: reqwest::Client,
    origin: url::Origin,
    auth: Option<(HeaderName, HeaderValue)>,
    request_timeout: Duration,
    max_document: u64,
    label: String,
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Client {
    /// Builds the client; fails on credentials that are not valid header values.
    pub fn new(settings: &ProxySettings) -> anyhow::Result<Client> {
        let origin = settings.upstream.origin();
        let same_origin = origin.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("more than 5 redirects")
            } else if attempt.url().origin() != same_origin {
                // Another origin: not followed (it could be sent nothing we trust it with, and the
                // file would not be what the upstream's metadata described).
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.request_timeout)
            .redirect(policy)
            .user_agent(concat!("packgate/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .build()?;
        let auth = match &settings.auth {
            None => None,
            Some(UpstreamAuth::Basic { username, password }) => {
                use base64::Engine;
                let raw = format!("{username}:{}", password.expose());
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                );
                Some((reqwest::header::AUTHORIZATION, sensitive(&value)?))
            }
            Some(UpstreamAuth::Bearer { token }) => Some((
                reqwest::header::AUTHORIZATION,
                sensitive(&format!("Bearer {}", token.expose()))?,
            )),
            Some(UpstreamAuth::Header { name, value }) => Some((
                HeaderName::from_bytes(name.as_bytes())?,
                sensitive(value.expose())?,
            )),
        };
        Ok(Client {
            http,
            label: settings.upstream.origin().ascii_serialization(),
            origin,
            auth,
            request_timeout: settings.request_timeout,
            max_document: settings.max_document_size,
        })
    }

    /// The upstream's origin, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn request(&self, url: &url::Url, headers: HeaderMap) -> reqwest::RequestBuilder {
        let mut req = self.http.get(url.clone()).headers(headers);
        if url.origin() == self.origin
            && let Some((name, value)) = &self.auth
        {
            req = req.header(name.clone(), value.clone());
        }
        req
    }

    fn failure(&self, url: &url::Url, e: &reqwest::Error) -> UpstreamFailure {
        UpstreamFailure {
            message: format!(
                "upstream {} failed for {}: {}",
                self.label,
                url.path(),
                describe(e)
            ),
            timeout: e.is_timeout(),
            retry_after: None,
        }
    }

    fn bad_status(&self, url: &url::Url, res: &reqwest::Response) -> UpstreamFailure {
        let status = res.status();
        let mut f = UpstreamFailure::new(format!(
            "upstream {} answered {} for {}",
            self.label,
            status.as_u16(),
            url.path()
        ));
        if status.is_redirection() {
            f.message
                .push_str(" (a redirect to another origin, not followed)");
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let secs = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(60);
            f.retry_after = Some(Duration::from_secs(secs.max(1)));
        }
        f
    }

    /// GETs a document with the stored validators, reading at most `max_document_size` bytes,
    /// within `request_timeout` for the whole exchange.
    pub async fn document(
        &self,
        url: &url::Url,
        accept: Option<&str>,
        etag: Option<&str>,
        last_modified: Option<&str>,
        missing: &[u16],
    ) -> Result<DocAnswer, UpstreamFailure> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept.and_then(|a| HeaderValue::from_str(a).ok()) {
            headers.insert(reqwest::header::ACCEPT, a);
        }
        if let Some(v) = etag.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(reqwest::header::IF_NONE_MATCH, v);
        }
        if let Some(v) = last_modified.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(reqwest::header::IF_MODIFIED_SINCE, v);
        }
        let exchange = async {
            let res = self
                .request(url, headers)
                .send()
                .await
                .map_err(|e| self.failure(url, &e))?;
            let status = res.status();
            if status == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(DocAnswer::NotModified);
            }
            if missing.contains(&status.as_u16()) {
                return Ok(DocAnswer::Missing);
            }
            if status != reqwest::StatusCode::OK {
                return Err(self.bad_status(url, &res));
            }
            if res.content_length().is_some_and(|n| n > self.max_document) {
                return Err(self.too_large(url));
            }
            let header = |name: reqwest::header::HeaderName| {
                res.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let etag = header(reqwest::header::ETAG);
            let last_modified = header(reqwest::header::LAST_MODIFIED);
            let mut body = bytes::BytesMut::new();
            let mut stream = res.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.failure(url, &e))?;
                if body.len() as u64 + chunk.len() as u64 > self.max_document {
                    return Err(self.too_large(url));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(DocAnswer::Body {
                body: body.freeze(),
                etag,
                last_modified,
            })
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(UpstreamFailure {
                message: format!(
                    "upstream {} did not answer {} within {} s",
                    self.label,
                    url.path(),
                    self.request_timeout.as_secs_f64()
                ),
                timeout: true,
                retry_after: None,
            }),
        }
    }

    fn too_large(&self, url: &url::Url) -> UpstreamFailure {
        UpstreamFailure::new(format!(
            "upstream {} sent a document larger than max_document_size ({} bytes) for {}",
            self.label,
            self.max_document,
            url.path()
        ))
    }

    /// GETs a file: `Ok(None)` for 404/410, else the response whose body the caller streams
    /// (each read bounded by `request_timeout`, the reqwest read timeout). A redirect to another
    /// origin (a registry's CDN) is followed without credentials, at most 5 hops, when
    /// `cross_origin` (the bytes are checked against the declared digest whatever host served
    /// them); otherwise it is a 502.
    pub async fn file(
        &self,
        url: &url::Url,
        cross_origin: bool,
    ) -> Result<Option<reqwest::Response>, UpstreamFailure> {
        let mut current = url.clone();
        for _ in 0..=5 {
            let send = self.request(&current, HeaderMap::new()).send();
            let res = match tokio::time::timeout(self.request_timeout, send).await {
                Ok(r) => r.map_err(|e| self.failure(&current, &e))?,
                Err(_) => {
                    return Err(UpstreamFailure {
                        message: format!(
                            "upstream {} did not answer {} within {} s",
                            self.label,
                            current.path(),
                            self.request_timeout.as_secs_f64()
                        ),
                        timeout: true,
                        retry_after: None,
                    });
                }
            };
            let status = res.status();
            if cross_origin
                && status.is_redirection()
                && let Some(next) = res
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| current.join(l).ok())
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
            {
                current = next;
                continue;
            }
            return match status.as_u16() {
                200 => Ok(Some(res)),
                404 | 410 => Ok(None),
                _ => Err(self.bad_status(&current, &res)),
            };
        }
        Err(UpstreamFailure::new(format!(
            "upstream {} redirected {} more than 5 times",
            self.label,
            url.path()
        )))
    }

    /// A failure while reading a file body.
    pub fn body_failure(&self, url: &url::Url, e: &reqwest::Error) -> UpstreamFailure {
        self.failure(url, e)
    }
}

fn sensitive(value: &str) -> anyhow::Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| anyhow::anyhow!("upstream_auth holds characters a header cannot carry"))?;
    v.set_sensitive(true);
    Ok(v)
}
