//! Reads the caller's credentials from `Authorization` (`Bearer <token>`, `Basic user:secret`, or a
//! raw token as cargo and gem send it) and resolves them to a principal.

use crate::config::IpNet;
use crate::error::AppError;
use crate::services::auth::{self, Principal};
use crate::state::AppState;
use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use base64::Engine;
use std::net::{IpAddr, Ipv4Addr};

/// The credential in the request, if any, as sent.
pub enum Credential {
    /// A token (Bearer or raw).
    Token(String),
    /// Basic user and secret.
    Basic(String, String),
}

/// Parses the `Authorization` header.
pub fn credential(req: &HttpRequest) -> Result<Option<Credential>, AppError> {
    let Some(v) = req.headers().get("authorization") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| AppError::Unauthorized("malformed Authorization header".into()))?
        .trim();
    if v.is_empty() {
        return Ok(None);
    }
    let (scheme, rest) = v.split_once(' ').unwrap_or(("", v));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Credential::Token(rest.trim().to_string())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| AppError::Unauthorized("malformed Basic credentials".into()))?;
        let text = String::from_utf8(raw)
            .map_err(|_| AppError::Unauthorized("malformed Basic credentials".into()))?;
        let (u, p) = text.split_once(':').unwrap_or((text.as_str(), ""));
        if u.is_empty() && p.is_empty() {
            // NuGet.exe answers a 401 challenge with `Basic Og==` (":") when it has no
            // credentials: that is no credential, not a wrong one.
            return Ok(None);
        }
        return Ok(Some(Credential::Basic(u.to_string(), p.to_string())));
    }
    Ok(Some(Credential::Token(v.to_string())))
}

/// The authenticated caller; a credential that is present but wrong is a 401, never "anonymous";
/// a 429 while the Basic user name or the client address has too many failed password checks.
pub async fn principal(req: &HttpRequest, state: &AppState) -> Result<Option<Principal>, AppError> {
    let found = match credential(req)? {
        None => return Ok(None),
        Some(Credential::Token(t)) => auth::principal_for_token(&state.db, &t).await?,
        Some(Credential::Basic(u, p)) => {
            let client = client_address(req, state);
            auth::principal_for_basic(&state.db, client, &u, &p).await?
        }
    };
    match found {
        Some(p) => Ok(Some(p)),
        None => Err(AppError::Unauthorized(
            "bad credentials: the token is unknown, revoked or expired".into(),
        )),
    }
}

/// The client address failed password checks are counted under: the peer, or, when the peer is
/// one of `server.trusted_proxies`, the nearest address its forwarding headers name that is not a
/// trusted proxy itself.
pub fn client_address(req: &HttpRequest, state: &AppState) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(client_behind(
        peer,
        &state.config.server.trusted_proxies,
        req.headers(),
    ))
}

/// [`client_address`] from its parts. The forwarded chain (`Forwarded: for=`, else
/// `X-Forwarded-For`) is read from the right: each proxy appends the address it received the
/// request from, so entries left of the first untrusted one may have been written by the client.
fn client_behind(peer: IpAddr, trusted: &[IpNet], headers: &HeaderMap) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::to_string)
            .collect()
    };
    let forwarded: Vec<IpAddr> = values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| node_ip(v))?
            })
        })
        .collect();
    let chain = if forwarded.is_empty() {
        values("x-forwarded-for")
            .iter()
            .filter_map(|v| node_ip(v))
            .collect()
    } else {
        forwarded
    };
    chain
        .iter()
        .rev()
        .copied()
        .find(|ip| !is_trusted(*ip))
        .or_else(|| chain.first().copied())
        .unwrap_or(peer)
}

/// The address of a forwarded node: `1.2.3.4`, `1.2.3.4:5`, `2001:db8::1`, `"[2001:db8::1]:5"`.
fn node_ip(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, _port) = node.rsplit_once(':')?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|s| IpNet::try_from(s.to_string()).expect("net"))
            .collect()
    }

    fn client(peer: &str, trusted: &[&str], headers: &[(&str, &str)]) -> IpAddr {
        let mut req = TestRequest::default();
        for h in headers {
            req = req.append_header(*h);
        }
        client_behind(ip(peer), &nets(trusted), req.to_http_request().headers())
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_proxy() {
        let xff = [("x-forwarded-for", "203.0.113.7")];
        assert_eq!(client("198.51.100.1", &[], &xff), ip("198.51.100.1"));
        assert_eq!(
            client("198.51.100.1", &["10.0.0.0/8"], &xff),
            ip("198.51.100.1")
        );
        assert_eq!(client("10.0.0.2", &["10.0.0.0/8"], &xff), ip("203.0.113.7"));
        assert_eq!(client("10.0.0.2", &["10.0.0.0/8"], &[]), ip("10.0.0.2"));
    }

    #[test]
    fn the_nearest_untrusted_forwarded_address_is_the_client() {
        let trusted = ["10.0.0.0/8"];
        // The client wrote the first entry itself; the proxy appended the real address.
        let spoofed = [("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.9")];
        assert_eq!(client("10.0.0.2", &trusted, &spoofed), ip("203.0.113.7"));
        let lines = [
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.8:4711"),
        ];
        assert_eq!(client("10.0.0.2", &trusted, &lines), ip("203.0.113.8"));
        let forwarded = [(
            "forwarded",
            "for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.9",
        )];
        assert_eq!(client("10.0.0.2", &trusted, &forwarded), ip("2001:db8::7"));
        let all_trusted = [("x-forwarded-for", "10.1.1.1, 10.0.0.9")];
        assert_eq!(client("10.0.0.2", &trusted, &all_trusted), ip("10.1.1.1"));
        let garbage = [("x-forwarded-for", "unknown, _hidden")];
        assert_eq!(client("10.0.0.2", &trusted, &garbage), ip("10.0.0.2"));
    }
}
