//! NuGet v3 (nuget.exe, `dotnet`, Visual Studio): the service index, the flat container,
//! registrations, search and autocomplete, push, delete (unlist), relist, deprecation and symbol
//! packages. Every resource lives under `{repo}/v3/`. See `docs/formats/nuget.md` for the URL table.
//! The same routes serve proxy repositories (`proxy.rs`): each read handler hands a proxy's
//! request over at its top, and the writes refuse it.
//!
//! Ids are case-insensitive: the package's normalized name is the lower-case id, and its name keeps
//! the spelling of the first push. A version row's `version` is the full version (normalized, with
//! build metadata), its `normalized_version` the lower-case normalized version (the identity).
//! Files of a version: `{id}.{ver}.nupkg`, `{id}.{ver}.nuspec` (the nuspec entry, byte for byte) and,
//! once pushed, `{id}.{ver}.snupkg`, all lower-case.
//!
//! NuGet clients print only the status line of a failed response, so every error carries a fixed,
//! specific reason phrase (see [`Nuget`]); the body says more for other tools.

mod feed;
mod group;
mod proxy;
mod publish;
mod search;

use crate::error::AppError;
use crate::format::{ApiError, ErrorFormat, FormatModule};
use crate::routes::common::ctx::{Ctx, RepoRequest, get_head};
use crate::services::auth::{self, Principal, Scope};
use crate::services::packages::{PackageDescriptor, VersionDescriptor};
use crate::state::RepoCtx;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use packgate_nuget::{Deprecation, NuGetVersion, Nuspec};

/// The NuGet format.
pub struct NugetModule;

/// NuGet's error shape: a JSON `{"message"}` body and, since NuGet clients print only the status
/// line (`Response status code does not indicate success: 409 (A package with this id and version
/// already exists).`), a specific reason phrase: the error's own (`AppError::with_reason`), else
/// one per status.
pub struct Nuget;

/// Handler result with NuGet-shaped errors.
pub type NugetResult = Result<HttpResponse, ApiError<Nuget>>;

/// The reason phrase of a duplicate push.
pub const DUPLICATE: &str = "A package with this id and version already exists";

impl ErrorFormat for Nuget {
    fn render(status: StatusCode, message: &str) -> HttpResponse {
        let mut res = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            // .NET's HttpClientHandler sends the configured credentials only after this challenge.
            res.insert_header(("www-authenticate", "Basic realm=\"packgate\""));
        }
        res.content_type("application/json")
            .body(packgate_nuget::error_body(message))
    }

    fn reason(status: StatusCode) -> Option<&'static str> {
        Some(match status {
            StatusCode::BAD_REQUEST => "The request is not valid",
            StatusCode::UNAUTHORIZED => "An API key is required",
            StatusCode::FORBIDDEN => "The API key does not allow this operation",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => DUPLICATE,
            StatusCode::REQUEST_TIMEOUT => "The upload stalled and was cut",
            StatusCode::PAYLOAD_TOO_LARGE => "The package exceeds the size limit",
            StatusCode::TOO_MANY_REQUESTS => "Too many failed sign-in attempts",
            StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
            StatusCode::INSUFFICIENT_STORAGE => "The server's storage is full",
            _ => "Internal server error",
        })
    }
}

impl From<packgate_nuget::PackageError> for AppError {
    fn from(e: packgate_nuget::PackageError) -> Self {
        AppError::Invalid(e.to_string()).with_reason(e.reason())
    }
}

impl FormatModule for NugetModule {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Nuget
    }

    fn supports_proxy(&self) -> bool {
        true
    }

    fn group_explainer(&self) -> Option<crate::format::Explainer> {
        Some(|ctx, name| Box::pin(group::explain(ctx, name)))
    }

    fn normalize_name(&self, name: &str) -> String {
        packgate_nuget::lower_id(name)
    }

    fn routes(&self, cfg: &mut web::ServiceConfig) {
        get_head(cfg, "/v3/index.json", service_index);
        get_head(cfg, "/v3/flatcontainer/{id}/index.json", flat_versions);
        get_head(cfg, "/v3/flatcontainer/{id}/{version}/{file}", flat_file);
        get_head(cfg, "/v3/registration/{id}/index.json", registration_index);
        get_head(
            cfg,
            "/v3/registration/{id}/page/{lower}/{upper}",
            registration_page,
        );
        get_head(cfg, "/v3/registration/{id}/{leaf}", registration_leaf);
        get_head(cfg, "/v3/query", query);
        get_head(cfg, "/v3/autocomplete", autocomplete);
        cfg.route("/v3/package", web::put().to(push))
            .route("/v3/package/", web::put().to(push))
            .route("/v3/symbolpackage", web::put().to(push_symbols))
            .route("/v3/symbolpackage/", web::put().to(push_symbols))
            .route("/v3/package/{id}/{version}", web::delete().to(unlist))
            .route("/v3/package/{id}/{version}", web::post().to(relist))
            .route(
                "/v3/package/{id}/{version}/deprecation",
                web::put().to(deprecate),
            )
            .route(
                "/v3/package/{id}/{version}/deprecation",
                web::delete().to(undeprecate),
            )
            .default_service(web::to(not_found_route));
    }
}

// The route handlers: each takes its path apart and hands the request to the group's reads on a
// group repository (`group.rs`), else to the feed's (`feed.rs`, `search.rs`, which hand a
// proxy's over to `proxy.rs`). Writes go to the repository `group::write_target` names: the
// request's own, or a group's hosted member.

/// `GET {repo}/v3/index.json`. A group's is a hosted feed's (under the group's URL): it serves
/// every resource listed there.
async fn service_index(r: RepoRequest) -> NugetResult {
    feed::service_index(&r.ctx()).await
}

/// `GET {flat}/{id}/index.json`.
async fn flat_versions(r: RepoRequest, id: web::Path<String>) -> NugetResult {
    let ctx = r.ctx();
    if ctx.repo.group.is_some() {
        return group::flat_versions(&ctx, &id).await;
    }
    feed::flat_versions(&ctx, &id).await
}

/// `GET {flat}/{id}/{version}/{file}`.
async fn flat_file(r: RepoRequest, path: web::Path<(String, String, String)>) -> NugetResult {
    let ctx = r.ctx();
    let (id, version, file) = path.into_inner();
    if ctx.repo.group.is_some() {
        return group::flat_file(&ctx, &id, &version, &file).await;
    }
    feed::flat_file(&ctx, &id, &version, &file).await
}

/// `GET {reg}/{id}/index.json`.
async fn registration_index(r: RepoRequest, id: web::Path<String>) -> NugetResult {
    let ctx = r.ctx();
    if ctx.repo.group.is_some() {
        return group::registration_index(&ctx, &id).await;
    }
    feed::registration_index(&ctx, &id).await
}

/// `GET {reg}/{id}/page/{lower}/{upper}.json`.
async fn registration_page(
    r: RepoRequest,
    path: web::Path<(String, String, String)>,
) -> NugetResult {
    let ctx = r.ctx();
    let (id, lower, upper) = path.into_inner();
    if ctx.repo.group.is_some() {
        return group::registration_page(&ctx, &id, &lower, &upper).await;
    }
    feed::registration_page(&ctx, &id, &lower, &upper).await
}

/// `GET {reg}/{id}/{version}.json`.
async fn registration_leaf(r: RepoRequest, path: web::Path<(String, String)>) -> NugetResult {
    let ctx = r.ctx();
    let (id, leaf) = path.into_inner();
    if ctx.repo.group.is_some() {
        return group::registration_leaf(&ctx, &id, &leaf).await;
    }
    feed::registration_leaf(&ctx, &id, &leaf).await
}

/// `GET {repo}/v3/query`.
async fn query(r: RepoRequest) -> NugetResult {
    let ctx = r.ctx();
    if ctx.repo.group.is_some() {
        return group::query(&ctx).await;
    }
    search::query(&ctx).await
}

/// `GET {repo}/v3/autocomplete`.
async fn autocomplete(r: RepoRequest) -> NugetResult {
    let ctx = r.ctx();
    if ctx.repo.group.is_some() {
        return group::autocomplete(&ctx).await;
    }
    search::autocomplete(&ctx).await
}

/// `PUT {repo}/v3/package[/]` (on a group, the target is chosen once the id is read).
async fn push(r: RepoRequest, payload: web::Payload) -> NugetResult {
    publish::push(&r.ctx(), payload).await
}

/// `PUT {repo}/v3/symbolpackage[/]` (likewise).
async fn push_symbols(r: RepoRequest, payload: web::Payload) -> NugetResult {
    publish::push_symbols(&r.ctx(), payload).await
}

/// The repository a write to package `id` goes to (see `group::write_target`).
async fn package_target<'a>(ctx: &Ctx<'a>, id: &str) -> Result<&'a RepoCtx, AppError> {
    group::write_target(ctx, &packgate_nuget::lower_id(id)).await
}

/// `DELETE {repo}/v3/package/{id}/{version}` (unlist).
async fn unlist(r: RepoRequest, path: web::Path<(String, String)>) -> NugetResult {
    let ctx = r.ctx();
    ctx.label("unlist");
    let (id, version) = path.into_inner();
    let repo = package_target(&ctx, &id).await?;
    publish::unlist(&Ctx::new(ctx.req, ctx.state, repo), &id, &version).await
}

/// `POST {repo}/v3/package/{id}/{version}` (relist).
async fn relist(r: RepoRequest, path: web::Path<(String, String)>) -> NugetResult {
    let ctx = r.ctx();
    ctx.label("relist");
    let (id, version) = path.into_inner();
    let repo = package_target(&ctx, &id).await?;
    publish::relist(&Ctx::new(ctx.req, ctx.state, repo), &id, &version).await
}

/// `PUT {repo}/v3/package/{id}/{version}/deprecation`.
async fn deprecate(
    r: RepoRequest,
    payload: web::Payload,
    path: web::Path<(String, String)>,
) -> NugetResult {
    let ctx = r.ctx();
    ctx.label("deprecate");
    let (id, version) = path.into_inner();
    let repo = package_target(&ctx, &id).await?;
    publish::deprecate(&Ctx::new(ctx.req, ctx.state, repo), payload, &id, &version).await
}

/// `DELETE {repo}/v3/package/{id}/{version}/deprecation`.
async fn undeprecate(r: RepoRequest, path: web::Path<(String, String)>) -> NugetResult {
    let ctx = r.ctx();
    ctx.label("undeprecate");
    let (id, version) = path.into_inner();
    let repo = package_target(&ctx, &id).await?;
    publish::undeprecate(&Ctx::new(ctx.req, ctx.state, repo), &id, &version).await
}

async fn not_found_route(req: HttpRequest) -> NugetResult {
    crate::observe::label(&req, "unknown");
    Err(AppError::NotFound(format!("no such NuGet endpoint: {}", req.path())).into())
}

/// The caller: a token in `X-NuGet-ApiKey` (what push and delete send), else the `Authorization`
/// header (Basic with the token or password, as configured in `NuGet.Config`).
async fn principal(ctx: &Ctx<'_>) -> Result<Option<Principal>, AppError> {
    const BAD_KEY: &str = "The API key is invalid, revoked or expired";
    let key = ctx
        .req
        .headers()
        .get("x-nuget-apikey")
        .map(|v| v.to_str().unwrap_or("").trim().to_string());
    match key {
        Some(key) if !key.is_empty() => {
            match auth::principal_for_token(&ctx.state.db, &key).await? {
                Some(p) => Ok(Some(p)),
                None => Err(AppError::Unauthorized(
                    "the API key is unknown, revoked or expired; create one with `packgate token create`".into(),
                )
                .with_reason(BAD_KEY)),
            }
        }
        _ => ctx.principal().await.map_err(|e| match e {
            AppError::Unauthorized(_) => e.with_reason(BAD_KEY),
            other => other,
        }),
    }
}

/// Authenticates and authorizes `action` in the repository (anonymous reads where allowed); a
/// group's member, asked by the group or written through it, under the group's access rules.
async fn allow(ctx: &Ctx<'_>, action: Scope) -> Result<Option<Principal>, AppError> {
    let who = principal(ctx).await?;
    let anonymous_ok = action == Scope::Read && ctx.repo.anonymous_read;
    auth::authorize(who.as_ref(), ctx.repo.access_name(), anonymous_ok, action).map_err(
        |e| match e {
            AppError::Unauthorized(_) => e.with_reason(if action == Scope::Read {
                "Credentials are required to read this feed"
            } else {
                "An API key is required"
            }),
            other => other.with_reason("The API key does not allow this operation"),
        },
    )?;
    Ok(who)
}

/// `{base}/{repo}/v3`: the directory every resource URL lives under.
fn v3_url(ctx: &Ctx<'_>) -> String {
    format!("{}/v3", ctx.repo_url())
}

/// A version of a loaded package, parsed, with its stored nuspec.
struct Entry<'a> {
    v: &'a VersionDescriptor,
    version: NuGetVersion,
    nuspec: Nuspec,
    deprecation: Option<Deprecation>,
}

/// Every version of a package with its parsed version and nuspec, ascending by version.
fn entries(desc: &PackageDescriptor) -> Result<Vec<Entry<'_>>, AppError> {
    let mut out = Vec::with_capacity(desc.versions.len());
    for v in &desc.versions {
        let version = NuGetVersion::parse(&v.version.version).map_err(AppError::internal)?;
        let nuspec: Nuspec = v.version.metadata()?;
        let deprecation = match &v.version.deprecated {
            Some(json) => Some(serde_json::from_str(json).map_err(AppError::internal)?),
            None => None,
        };
        out.push(Entry {
            v,
            version,
            nuspec,
            deprecation,
        });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(out)
}

/// The version from a URL segment (any case, any equivalent spelling); `None` when it is not a
/// NuGet version (callers answer 404, as for an unknown version).
fn url_version(segment: &str) -> Option<NuGetVersion> {
    NuGetVersion::parse(segment).ok()
}

/// File names of a version's files.
fn nupkg_name(lower_id: &str, lower_version: &str) -> String {
    format!("{lower_id}.{lower_version}.nupkg")
}

fn nuspec_name(lower_id: &str, lower_version: &str) -> String {
    format!("{lower_id}.{lower_version}.nuspec")
}

fn snupkg_name(lower_id: &str, lower_version: &str) -> String {
    format!("{lower_id}.{lower_version}.snupkg")
}

/// Whether the version is SemVer 2.0.0 (its own label or metadata, or a dependency range bound),
/// so hidden from clients that do not ask for `semVerLevel=2.0.0`.
fn is_semver2(e: &Entry<'_>) -> bool {
    e.version.is_semver2()
        || e.nuspec.dependency_groups.iter().any(|g| {
            g.dependencies.iter().any(|d| {
                d.range
                    .as_deref()
                    .and_then(|r| packgate_nuget::VersionRange::parse(r).ok())
                    .is_some_and(|r| r.is_semver2())
            })
        })
}
