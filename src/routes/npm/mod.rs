//! npm registry protocol (npm 10/11): the format module and the request router.
//!
//! npm sends scoped names as `@scope%2fname` (and tarball URLs with a literal `/`), so this module
//! routes on the raw request path itself instead of actix's decoded segments. Every path starting
//! with `/-/` is a registry endpoint; anything else starts with a package name. See
//! `docs/formats/npm.md` for the URL table.

mod dist_tags;
mod download;
mod group;
mod metadata;
mod misc;
mod proxy;
mod publish;
mod user;
mod view;

use crate::error::AppError;
use crate::format::{ApiError, ErrorFormat, FormatModule};
use crate::state::{AppState, RepoCtx};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

/// The npm format.
pub struct NpmModule;

/// npm's error body: JSON with an `error` string (the only field npm prints).
pub struct Npm;

/// A request body, decompressed according to its `Content-Encoding` (npm gzips audit bodies).
pub(super) type Body = actix_web::dev::Decompress<actix_web::dev::Payload>;

/// Handler result with npm-shaped errors.
pub type NpmResult = Result<HttpResponse, ApiError<Npm>>;

impl ErrorFormat for Npm {
    fn render(status: StatusCode, message: &str) -> HttpResponse {
        // No WWW-Authenticate on 401: npm would print "Unable to authenticate, need: ..." instead of the message.
        HttpResponse::build(status)
            .content_type("application/json")
            .body(packgate_npm::error_body(message))
    }
}

impl FormatModule for NpmModule {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Npm
    }

    fn normalize_name(&self, name: &str) -> String {
        name.to_string()
    }

    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.default_service(web::to(dispatch));
    }

    fn supports_proxy(&self) -> bool {
        true
    }
    fn group_explainer(&self) -> Option<crate::format::Explainer> {
        Some(|ctx, name| Box::pin(group::explain(ctx, name)))
    }
}

crate::invalid_from!(
    packgate_npm::PublishError,
    packgate_npm::TarballError,
    packgate_npm::NameError,
    packgate_npm::VersionError
);

/// What the raw path under the repository asks for.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Ping,
    Whoami,
    Search,
    WebLogin,
    CouchUser(String),
    Logout(String),
    Tokens,
    Token(String),
    AuditBulk,
    AuditQuick,
    Keys,
    DistTags(String),
    DistTag(String, String),
    Package(String),
    PackageRev(String),
    Tarball(String, String),
    TarballRev(String, String),
    Version(String, String),
}

fn decode(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Splits `@scope%2fname/rest`, `@scope/name/rest` or `name/rest` into (name, rest).
fn split_name(tail: &str) -> Option<(String, &str)> {
    let (first, rest) = tail.split_once('/').unwrap_or((tail, ""));
    let decoded_first = decode(first)?;
    if decoded_first.starts_with('@') && !decoded_first.contains('/') {
        let (second, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let name = package_name(&format!("{first}/{second}"))?;
        return Some((name, rest));
    }
    Some((package_name(first)?, rest))
}

/// A package name from a raw segment. Names npm would refuse still route (to a 404 on reads, and
/// to the publish handler, whose validation answers 400 saying what is wrong), unless they are
/// empty, `.`/`..`, or contain control characters.
fn package_name(raw: &str) -> Option<String> {
    if let Some(n) = packgate_npm::decode_name(raw) {
        return Some(n);
    }
    let n = decode(raw)?;
    let ok = !n.is_empty()
        && n.len() <= 1024
        && n != "."
        && n != ".."
        && !n.chars().any(char::is_control)
        && n.matches('/').count() <= 1;
    ok.then_some(n)
}

fn parse_target(path: &str) -> Option<Target> {
    let tail = path.trim_start_matches('/');
    if let Some(special) = tail.strip_prefix("-/") {
        let (special, _) = special.split_once('?').unwrap_or((special, ""));
        return Some(match special {
            "ping" => Target::Ping,
            "whoami" => Target::Whoami,
            "v1/search" => Target::Search,
            "v1/login" => Target::WebLogin,
            "npm/v1/tokens" => Target::Tokens,
            "npm/v1/security/advisories/bulk" => Target::AuditBulk,
            "npm/v1/security/audits/quick" | "npm/v1/security/audits" => Target::AuditQuick,
            "npm/v1/keys" => Target::Keys,
            s => {
                if let Some(u) = s.strip_prefix("user/org.couchdb.user:") {
                    Target::CouchUser(decode(u.split('/').next().unwrap_or(u))?)
                } else if let Some(t) = s.strip_prefix("user/token/") {
                    Target::Logout(decode(t)?)
                } else if let Some(k) = s.strip_prefix("npm/v1/tokens/token/") {
                    Target::Token(decode(k)?)
                } else if let Some(p) = s.strip_prefix("package/") {
                    let (name, rest) = split_name(p)?;
                    match rest.strip_prefix("dist-tags") {
                        Some("") | Some("/") => Target::DistTags(name),
                        Some(t) => Target::DistTag(name, decode(t.strip_prefix('/')?)?),
                        None => return None,
                    }
                } else {
                    return None;
                }
            }
        });
    }
    let (name, rest) = split_name(tail)?;
    if rest.is_empty() {
        return Some(Target::Package(name));
    }
    if let Some(rev) = rest.strip_prefix("-rev/") {
        let _ = rev;
        return Some(Target::PackageRev(name));
    }
    if let Some(file) = rest.strip_prefix("-/") {
        return Some(match file.split_once("/-rev/") {
            Some((f, _)) => Target::TarballRev(name, decode(f)?),
            None => Target::Tarball(name, decode(file)?),
        });
    }
    if rest.contains('/') {
        return None;
    }
    Some(Target::Version(name, decode(rest)?))
}

/// The request context every npm handler gets.
pub(super) type Ctx<'a> = crate::routes::common::ctx::Ctx<'a>;

fn json(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn not_found() -> AppError {
    AppError::NotFound("Not found".into())
}

/// The operations a proxy answers itself (`Ok`), or the target handed back for the shared
/// handlers (`Err`).
async fn proxy_route(
    ctx: &Ctx<'_>,
    target: Target,
    is_get: bool,
) -> Result<Result<HttpResponse, AppError>, Target> {
    Ok(match (target, is_get) {
        (Target::Package(name), true) => proxy::packument(ctx, &name).await,
        (Target::Tarball(name, file), true) => proxy::tarball(ctx, &name, &file).await,
        (Target::Version(name, v), true) => proxy::version(ctx, &name, &v).await,
        (Target::DistTags(name), true) => proxy::dist_tags(ctx, &name).await,
        (Target::Search, true) => proxy::search(ctx).await,
        (
            Target::Package(_)
            | Target::PackageRev(_)
            | Target::DistTag(..)
            | Target::DistTags(_)
            | Target::TarballRev(..),
            false,
        ) => Err(proxy::refuse_write(ctx)),
        (other, _) => return Err(other),
    })
}

/// What a group does with a target: reads it answers itself (`Ok`), writes go to the hosted
/// member holding the package, else to `publish_to` (`Err` with that member's context), and
/// packgate's own endpoints (users, tokens, ping, audits) run as in a hosted repository.
enum GroupRoute<'a> {
    Answered(Result<HttpResponse, AppError>),
    Member(&'a RepoCtx, Target),
    Own(Target),
}

async fn group_route<'a>(
    ctx: &Ctx<'a>,
    target: Target,
    is_get: bool,
) -> Result<GroupRoute<'a>, AppError> {
    let group = crate::routes::common::group::of(ctx)?;
    let package = match (&target, is_get) {
        (Target::Package(name), true) => {
            return Ok(GroupRoute::Answered(group::packument(ctx, name).await));
        }
        (Target::Tarball(name, file), true) => {
            return Ok(GroupRoute::Answered(group::tarball(ctx, name, file).await));
        }
        (Target::Version(name, v), true) => {
            return Ok(GroupRoute::Answered(group::version(ctx, name, v).await));
        }
        (Target::DistTags(name), true) => {
            return Ok(GroupRoute::Answered(group::dist_tags(ctx, name).await));
        }
        (Target::Search, true) => return Ok(GroupRoute::Answered(group::search(ctx).await)),
        (
            Target::Package(name)
            | Target::PackageRev(name)
            | Target::DistTag(name, _)
            | Target::DistTags(name)
            | Target::TarballRev(name, _),
            false,
        ) => name.clone(),
        _ => return Ok(GroupRoute::Own(target)),
    };
    match crate::routes::common::group::write_member(ctx, group, Some(&package)).await? {
        Some(member) => Ok(GroupRoute::Member(member, target)),
        None => Err(crate::routes::common::group::no_publish_to(&group.group)),
    }
}

/// The single entry point: parse the raw path, then call the operation.
async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
) -> NpmResult {
    let prefix_len = repo.name.len() + 1;
    let path = req.path().get(prefix_len..).unwrap_or("").to_string();
    let ctx = Ctx::new(&req, &state, &repo);
    let method = req.method().clone();
    let is_get = method == Method::GET || method == Method::HEAD;
    let Some(target) = parse_target(&path) else {
        ctx.label("unknown");
        let registry_endpoint = path.trim_start_matches('/').starts_with("-/");
        if !is_get && !registry_endpoint {
            // A write to a path that names no package (`/a/../b`, control characters): say why.
            return Err(AppError::Invalid(format!(
                "invalid package name in the path {:?}: names may not be empty, '.', '..' or contain '..' segments or control characters",
                path.trim_start_matches('/')
            ))
            .into());
        }
        return Err(not_found().into());
    };
    // Audit bodies (`small`) are gzip from anyone who may read: the decompressor inflates each
    // piece it is given at once, so one network read of a gzip bomb would become ~100 MiB before
    // any limit is checked. Handing it 2 KiB at a time bounds one step to a few MiB (deflate's
    // ratio is at most ~1030:1).
    let body = |small: bool| {
        use futures_util::StreamExt;
        type Chunk = Result<bytes::Bytes, actix_web::error::PayloadError>;
        let raw = payload.into_inner();
        if !small {
            return actix_web::dev::Decompress::from_headers(raw, req.headers());
        }
        let pieces = raw.flat_map(|chunk| {
            let pieces: Vec<Chunk> = match chunk {
                Ok(b) => (0..b.len())
                    .step_by(2048)
                    .map(|i| Ok(b.slice(i..(i + 2048).min(b.len()))))
                    .collect(),
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(pieces)
        });
        let boxed: std::pin::Pin<Box<dyn futures_util::Stream<Item = Chunk>>> = Box::pin(pieces);
        actix_web::dev::Decompress::from_headers(
            actix_web::dev::Payload::from(boxed),
            req.headers(),
        )
    };
    // A proxy reads packages from its upstream and takes no writes; users, tokens, ping and
    // audits are packgate's own, as in a hosted repository.
    let target = if ctx.repo.proxy.is_some() {
        match proxy_route(&ctx, target, is_get).await {
            Ok(res) => return res.map_err(ApiError::from),
            Err(target) => target,
        }
    } else {
        target
    };
    let (ctx, target) = if ctx.repo.group.is_some() {
        match group_route(&ctx, target, is_get).await? {
            GroupRoute::Answered(res) => return res.map_err(ApiError::from),
            GroupRoute::Member(member, target) => (Ctx::new(&req, &state, member), target),
            GroupRoute::Own(target) => (ctx, target),
        }
    } else {
        (ctx, target)
    };
    let res = match (target, method.as_str()) {
        (Target::Ping, _) if is_get => misc::ping(&ctx).await,
        (Target::Whoami, _) if is_get => user::whoami(&ctx).await,
        (Target::Search, _) if is_get => misc::search(&ctx).await,
        (Target::WebLogin, _) => user::web_login(&ctx).await,
        (Target::CouchUser(name), "PUT") => user::login(&ctx, &name, body(false)).await,
        (Target::CouchUser(name), _) if is_get => user::get_user(&ctx, &name).await,
        (Target::Logout(token), "DELETE") => user::logout(&ctx, &token).await,
        (Target::Tokens, _) if is_get => user::list_tokens(&ctx).await,
        (Target::Tokens, "POST") => user::create_token(&ctx, body(false)).await,
        (Target::Token(key), "DELETE") => user::revoke_token(&ctx, &key).await,
        (Target::AuditBulk, "POST") => misc::audit_bulk(&ctx, body(true)).await,
        (Target::AuditQuick, "POST") => misc::audit_quick(&ctx, body(true)).await,
        (Target::Keys, _) if is_get => misc::keys(&ctx).await,
        (Target::DistTags(name), _) if is_get => dist_tags::list(&ctx, &name).await,
        (Target::DistTag(name, tag), "PUT" | "POST") => {
            dist_tags::set(&ctx, &name, &tag, body(false)).await
        }
        (Target::DistTag(name, tag), "DELETE") => dist_tags::remove(&ctx, &name, &tag).await,
        (Target::Package(name), _) if is_get => metadata::get_packument(&ctx, &name).await,
        (Target::Package(name), "PUT") => {
            publish::put_package(&ctx, &name, false, body(false)).await
        }
        (Target::PackageRev(name), "PUT") => {
            publish::put_package(&ctx, &name, true, body(false)).await
        }
        (Target::PackageRev(name), "DELETE") => publish::delete_package(&ctx, &name).await,
        (Target::Tarball(name, file), _) if is_get => {
            download::get_tarball(&ctx, &name, &file).await
        }
        (Target::TarballRev(name, file), "DELETE") => {
            publish::delete_tarball(&ctx, &name, &file).await
        }
        (Target::Version(name, v), _) if is_get => metadata::get_version(&ctx, &name, &v).await,
        _ => {
            ctx.label("unknown");
            Err(AppError::Invalid(format!(
                "method {method} is not supported on this path"
            )))
        }
    };
    res.map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::{Target, parse_target};

    #[test]
    fn raw_paths_route_to_their_operations() {
        let t = |p: &str| parse_target(p);
        assert_eq!(t("/left-pad"), Some(Target::Package("left-pad".into())));
        for p in [
            "/@acme%2fwidget",
            "/@acme%2Fwidget",
            "/@acme/widget",
            "/%40acme%2fwidget",
        ] {
            assert_eq!(t(p), Some(Target::Package("@acme/widget".into())), "{p}");
        }
        assert_eq!(
            t("/@acme/widget/-/widget-1.0.0.tgz"),
            Some(Target::Tarball(
                "@acme/widget".into(),
                "widget-1.0.0.tgz".into()
            ))
        );
        assert_eq!(
            t("/@acme/widget/-/widget-1.0.0.tgz/-rev/3-abc"),
            Some(Target::TarballRev(
                "@acme/widget".into(),
                "widget-1.0.0.tgz".into()
            ))
        );
        assert_eq!(
            t("/@acme%2fwidget/-rev/3-abc"),
            Some(Target::PackageRev("@acme/widget".into()))
        );
        assert_eq!(
            t("/a/1.0.0"),
            Some(Target::Version("a".into(), "1.0.0".into()))
        );
        assert_eq!(
            t("/-/package/@acme%2fwidget/dist-tags"),
            Some(Target::DistTags("@acme/widget".into()))
        );
        assert_eq!(
            t("/-/package/a/dist-tags/beta"),
            Some(Target::DistTag("a".into(), "beta".into()))
        );
        assert_eq!(
            t("/-/user/org.couchdb.user:alice"),
            Some(Target::CouchUser("alice".into()))
        );
        assert_eq!(
            t("/-/npm/v1/tokens/token/abc"),
            Some(Target::Token("abc".into()))
        );
        assert_eq!(t("/-/nope"), None);
        assert_eq!(t("/../etc"), None);
    }
}
