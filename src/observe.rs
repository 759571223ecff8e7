//! Request ids, structured request logs and Prometheus metrics.
//!
//! One middleware wraps every request: it assigns an id (echoed as `x-request-id`), makes it
//! available to error rendering through a task-local, times the request, and records it in the
//! [`Metrics`] registry under the repository, format and route labels.

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// The route label a handler sets for metrics (`packument`, `tarball`, `publish`, ...).
#[derive(Clone, Copy)]
pub struct RouteLabel(pub &'static str);

/// Marks the current request with a route label for metrics and logs.
pub fn label(req: &actix_web::HttpRequest, route: &'static str) {
    req.extensions_mut().insert(RouteLabel(route));
}

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Process-wide counters and histograms, rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, String, String, u16), u64>>,
    latency: Mutex<HashMap<(String, String, String), Histogram>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    publishes: Mutex<HashMap<(String, String), u64>>,
}

impl Metrics {
    /// Counts one successful publish.
    pub fn publish(&self, repo: &str, format: &str) {
        let mut m = self.publishes.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((repo.to_string(), format.to_string())).or_default() += 1;
    }

    fn record(
        &self,
        repo: &str,
        format: &str,
        route: &str,
        status: u16,
        secs: f64,
        bytes: (u64, u64),
    ) {
        self.bytes_in.fetch_add(bytes.0, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes.1, Ordering::Relaxed);
        {
            let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            *m.entry((
                repo.to_string(),
                format.to_string(),
                route.to_string(),
                status,
            ))
            .or_default() += 1;
        }
        let mut h = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = h
            .entry((repo.to_string(), format.to_string(), route.to_string()))
            .or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP packgate_http_requests_total HTTP requests by repository, format, route and status.\n");
        out.push_str("# TYPE packgate_http_requests_total counter\n");
        let reqs = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<_> = reqs.iter().collect();
        rows.sort();
        for ((repo, format, route, status), n) in rows {
            let _ = writeln!(
                out,
                "packgate_http_requests_total{{repo=\"{repo}\",format=\"{format}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        drop(reqs);
        out.push_str("# HELP packgate_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE packgate_http_request_duration_seconds histogram\n");
        let lat = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<_> = lat.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        for ((repo, format, route), h) in rows {
            let labels = format!("repo=\"{repo}\",format=\"{format}\",route=\"{route}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "packgate_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "packgate_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "packgate_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "packgate_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        drop(lat);
        out.push_str("# HELP packgate_http_request_bytes_total Request body bytes received.\n");
        out.push_str("# TYPE packgate_http_request_bytes_total counter\n");
        let _ = writeln!(
            out,
            "packgate_http_request_bytes_total {}",
            self.bytes_in.load(Ordering::Relaxed)
        );
        out.push_str("# HELP packgate_http_response_bytes_total Response body bytes sent.\n");
        out.push_str("# TYPE packgate_http_response_bytes_total counter\n");
        let _ = writeln!(
            out,
            "packgate_http_response_bytes_total {}",
            self.bytes_out.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP packgate_publishes_total Successful publishes by repository and format.\n",
        );
        out.push_str("# TYPE packgate_publishes_total counter\n");
        let pubs = self.publishes.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<_> = pubs.iter().collect();
        rows.sort();
        for ((repo, format), n) in rows {
            let _ = writeln!(
                out,
                "packgate_publishes_total{{repo=\"{repo}\",format=\"{format}\"}} {n}"
            );
        }
        out
    }
}

/// Repository name -> format, for labelling requests by their first path segment.
pub struct RepoFormats(pub HashMap<String, &'static str>);

fn new_request_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// The middleware: request id, timing, metrics and one log line per request.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    let method = req.method().to_string();
    let path = loggable_path(req.path());
    let bytes_in: u64 = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let formats = req.app_data::<web::Data<RepoFormats>>().cloned();
    let result = REQUEST_ID.scope(id.clone(), next.call(req)).await;
    let mut res = result?;
    let status = res.status().as_u16();
    let route = res
        .request()
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0)
        .unwrap_or("other");
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let (repo, format) = match formats
        .as_ref()
        .and_then(|f| f.0.get(first).map(|fmt| (first.to_string(), *fmt)))
    {
        Some((r, f)) => (r, f),
        None => ("-".to_string(), "-"),
    };
    let route = if repo == "-" && route == "other" {
        match first {
            "healthz" | "readyz" | "metrics" => first,
            _ => "other",
        }
    } else {
        route
    };
    let bytes_out = match res.response().body().size() {
        BodySize::Sized(n) => n,
        _ => 0,
    };
    let secs = started.elapsed().as_secs_f64();
    if let Some(m) = metrics {
        m.record(&repo, format, route, status, secs, (bytes_in, bytes_out));
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    // No response is ever content-sniffed into something executable (stored package metadata,
    // error texts that quote a path).
    res.headers_mut().insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if route != "healthz" && route != "metrics" {
        tracing::info!(
            request.id = %id,
            http.method = %method,
            http.path = %path,
            http.status = status,
            repo.name = %repo,
            route = route,
            duration_ms = (secs * 1000.0) as u64,
            size_bytes = bytes_out,
            "request"
        );
    }
    Ok(res)
}

/// The request path as logged: secrets that clients put in paths are redacted (`npm logout` sends
/// its token as `/-/user/token/<token>`; any segment that is a packgate token).
pub fn loggable_path(path: &str) -> String {
    const LOGOUT: &str = "/-/user/token/";
    let path = match path.find(LOGOUT) {
        Some(i) => format!("{}{LOGOUT}<redacted>", &path[..i]),
        None => path.to_string(),
    };
    if !path.contains("pgt_") {
        return path;
    }
    path.split('/')
        .map(|seg| {
            if seg.starts_with("pgt_") || (seg.contains("pgt_") && seg.len() > 20) {
                "<redacted>"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod redaction_tests {
    use super::loggable_path;

    #[test]
    fn tokens_in_paths_are_redacted_in_logs() {
        assert_eq!(
            loggable_path("/npm/-/user/token/pgt_0123456789abcdef0123"),
            "/npm/-/user/token/<redacted>"
        );
        assert_eq!(
            loggable_path("/npm/-/user/token/some-opaque-value"),
            "/npm/-/user/token/<redacted>"
        );
        assert_eq!(
            loggable_path("/x/pgt_0123456789abcdef0123/y"),
            "/x/<redacted>/y"
        );
        assert_eq!(loggable_path("/npm/left-pad"), "/npm/left-pad");
    }
}
