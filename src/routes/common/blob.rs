//! Streams a stored blob as a download: Content-Length, immutable caching, ETag, single Range
//! requests, HEAD without a body, and headers that keep a browser from rendering it
//! (`Content-Disposition: attachment`, a sandboxing CSP; `nosniff` is on every response).

use crate::error::AppError;
use crate::state::AppState;
use crate::store::BlobKey;
use actix_web::body::SizedStream;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

/// Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range against a size; `Err` when unsatisfiable.
pub fn parse_range(header: &str, size: u64) -> Option<Result<std::ops::Range<u64>, ()>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multiple ranges: serve the whole body
    }
    let (a, b) = spec.split_once('-')?;
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(()));
        }
        size.saturating_sub(n)..size
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            size
        } else {
            b.parse::<u64>().ok()?.saturating_add(1).min(size)
        };
        if start >= size || end <= start {
            return Some(Err(()));
        }
        start..end
    };
    Some(Ok(r))
}

/// The download response for a blob.
pub async fn serve(
    req: &HttpRequest,
    state: &AppState,
    sha256: &str,
    size: u64,
    content_type: &str,
) -> Result<HttpResponse, AppError> {
    serve_from(req, state, sha256, size, content_type, None).await
}

/// [`serve`], reading the bytes from `local` (a verified copy of the blob, such as a proxied file
/// still being stored) instead of the blob store when given.
pub async fn serve_from(
    req: &HttpRequest,
    state: &AppState,
    sha256: &str,
    size: u64,
    content_type: &str,
    local: Option<&std::path::Path>,
) -> Result<HttpResponse, AppError> {
    let key = BlobKey::new(sha256).ok_or_else(|| AppError::internal("bad blob key"))?;
    let etag = format!("\"{}\"", &sha256[..32]);
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder
        .content_type(content_type)
        .insert_header(("etag", etag.clone()))
        .insert_header(("accept-ranges", "bytes"))
        .insert_header(("cache-control", "public, max-age=31536000, immutable"))
        // Stored package files are someone's upload: never rendered in a browser as a page of
        // this origin (a .nuspec with XHTML <script>, an HTML file in a tarball).
        .insert_header(("content-disposition", "attachment"))
        .insert_header(("content-security-policy", "default-src 'none'; sandbox"));
    if super::etag::not_modified(req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header(("etag", etag))
            .finish());
    }
    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|h| parse_range(h, size));
    let range = match range {
        Some(Err(())) => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header(("content-range", format!("bytes */{size}")))
                .finish());
        }
        Some(Ok(r)) => {
            builder.status(StatusCode::PARTIAL_CONTENT);
            builder.insert_header((
                "content-range",
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            ));
            Some(r)
        }
        None => None,
    };
    let len = range.as_ref().map_or(size, |r| r.end - r.start);
    if req.method() == Method::HEAD {
        // A sized body that yields nothing: actix writes its Content-Length on a HEAD response
        // and sends no payload (an empty body would drop the header).
        let nothing = futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
        return Ok(builder.body(SizedStream::new(len, nothing)));
    }
    let stream = match local {
        Some(path) => crate::store::fs::file_stream(path, range).await?,
        None => state.store.get(&key, range).await?,
    };
    Ok(builder.body(SizedStream::new(len, stream)))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_parse_like_rfc_9110() {
        assert_eq!(parse_range("bytes=0-4", 10), Some(Ok(0..5)));
        assert_eq!(parse_range("bytes=5-", 10), Some(Ok(5..10)));
        assert_eq!(parse_range("bytes=-3", 10), Some(Ok(7..10)));
        assert_eq!(parse_range("bytes=8-100", 10), Some(Ok(8..10)));
        assert_eq!(parse_range("bytes=10-", 10), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
    }
}
