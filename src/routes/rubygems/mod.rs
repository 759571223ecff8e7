//! RubyGems (gem 3.3+, Bundler 2.x): the compact index (`versions`, `info/NAME`, `names`), the
//! legacy Marshal indexes `gem` still uses, downloads, `gem push`, `gem yank` and `gem signin`,
//! for hosted, proxy (`proxy.rs`) and group (`group.rs`) repositories. See
//! `docs/formats/rubygems.md` for the URL table.
//!
//! Gem names are matched exactly; the package's normalized name is the squatting key (case and
//! `-`/`_`/`.` folded), so two gems that differ only by those cannot both exist. Every
//! (version, platform) pair is its own version row, keyed `version[-platform]`.

mod compact;
mod group;
mod group_versions;
mod legacy;
mod owners;
mod proxy;
mod push;

use crate::error::AppError;
use crate::format::{ApiError, ErrorFormat, FormatModule};
use crate::routes::common::ctx::{Ctx, RepoRequest, get_head};
use crate::services::packages::{self, PackageDescriptor};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// The RubyGems format.
pub struct RubygemsModule;

/// RubyGems error bodies: plain text, which `gem` prints verbatim.
pub struct Rubygems;

/// Handler result with RubyGems-shaped errors.
pub type GemResult = Result<HttpResponse, ApiError<Rubygems>>;

/// The append-only compact-index document.
pub const VERSIONS: &str = "rubygems.versions";

impl ErrorFormat for Rubygems {
    fn render(status: StatusCode, message: &str) -> HttpResponse {
        let mut res = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            // Bundler and gem send Basic credentials from their config after this challenge.
            res.insert_header(("www-authenticate", "Basic realm=\"packgate\""));
        }
        res.content_type("text/plain; charset=utf-8")
            .body(format!("{message}\n"))
    }
}

impl FormatModule for RubygemsModule {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Rubygems
    }

    fn normalize_name(&self, name: &str) -> String {
        packgate_rubygems::similarity_key(name)
    }

    fn routes(&self, cfg: &mut web::ServiceConfig) {
        get_head(cfg, "", compact::root);
        get_head(cfg, "/", compact::root);
        get_head(cfg, "/versions", versions);
        get_head(cfg, "/names", names);
        get_head(cfg, "/info/{name}", info);
        get_head(cfg, "/gems/{file}", gem_file);
        get_head(cfg, "/quick/Marshal.4.8/{file}", quick_spec);
        get_head(cfg, "/{file}", specs);
        cfg.route("/api/v1/gems", web::post().to(push_gem))
            .route("/api/v1/gems/yank", web::delete().to(yank))
            .route(
                "/api/v1/gems/{name}/owners.{ext}",
                web::get().to(list_owners),
            )
            .route("/api/v1/gems/{name}/owners", web::post().to(add_owner))
            .route("/api/v1/gems/{name}/owners", web::delete().to(remove_owner))
            .route("/api/v1/api_key", web::post().to(push::api_key))
            .route("/api/v1/api_key", web::get().to(push::api_key))
            .default_service(web::to(not_found_route));
    }

    fn supports_proxy(&self) -> bool {
        true
    }

    fn group_explainer(&self) -> Option<crate::format::Explainer> {
        Some(|ctx, name| Box::pin(group::explain(ctx, name)))
    }
}

crate::invalid_from!(packgate_rubygems::GemError, packgate_rubygems::NameError);

// Every route first sees whether its repository is a group (`group.rs` answers it); a hosted or
// proxy repository's handlers pick between themselves.

fn is_group(r: &RepoRequest) -> bool {
    r.ctx().repo.group.is_some()
}

async fn versions(r: RepoRequest) -> GemResult {
    if is_group(&r) {
        return Ok(group::versions(&r.ctx()).await?);
    }
    compact::versions(r).await
}

async fn names(r: RepoRequest) -> GemResult {
    if is_group(&r) {
        return Ok(group::names(&r.ctx()).await?);
    }
    compact::names(r).await
}

async fn info(r: RepoRequest, name: web::Path<String>) -> GemResult {
    if is_group(&r) {
        return Ok(group::info(&r.ctx(), &name).await?);
    }
    compact::info(r, name).await
}

async fn gem_file(r: RepoRequest, file: web::Path<String>) -> GemResult {
    if is_group(&r) {
        return Ok(group::gem_file(&r.ctx(), &file).await?);
    }
    legacy::gem_file(r, file).await
}

async fn quick_spec(r: RepoRequest, file: web::Path<String>) -> GemResult {
    if is_group(&r) {
        return Ok(group::quick_spec(&r.ctx(), &file).await?);
    }
    legacy::quick_spec(r, file).await
}

async fn specs(r: RepoRequest, file: web::Path<String>) -> GemResult {
    if is_group(&r) {
        return Ok(group::specs(&r.ctx(), &file).await?);
    }
    legacy::specs(r, file).await
}

async fn push_gem(r: RepoRequest, payload: web::Payload) -> GemResult {
    if is_group(&r) {
        return group::push_gem(&r.ctx(), payload).await;
    }
    push::push_gem(r, payload).await
}

async fn yank(r: RepoRequest, payload: web::Payload) -> GemResult {
    if is_group(&r) {
        return group::yank(&r.ctx(), payload).await;
    }
    push::yank(r, payload).await
}

async fn list_owners(r: RepoRequest, path: web::Path<(String, String)>) -> GemResult {
    if is_group(&r) {
        return group::list_owners(&r.ctx(), &path.0, &path.1).await;
    }
    owners::list(r, path).await
}

async fn add_owner(r: RepoRequest, payload: web::Payload, name: web::Path<String>) -> GemResult {
    if is_group(&r) {
        return group::change_owners(&r.ctx(), payload, &name, true).await;
    }
    owners::add(r, payload, name).await
}

async fn remove_owner(r: RepoRequest, payload: web::Payload, name: web::Path<String>) -> GemResult {
    if is_group(&r) {
        return group::change_owners(&r.ctx(), payload, &name, false).await;
    }
    owners::remove(r, payload, name).await
}

async fn not_found_route(req: HttpRequest) -> GemResult {
    crate::observe::label(&req, "unknown");
    Err(AppError::NotFound(format!("Not found: {}", req.path())).into())
}

/// Reads the small form body of a yank or an owner change (decoded, at most 64 KiB); the query
/// string when the body is empty (some clients put the fields there).
async fn read_form(ctx: &Ctx<'_>, payload: web::Payload) -> Result<Vec<u8>, AppError> {
    let body = actix_web::dev::Decompress::from_headers(payload.into_inner(), ctx.req.headers());
    let spooled = ctx.state.spool.body(body, 64 * 1024).await?;
    let form = std::fs::read(spooled.path())?;
    Ok(if form.is_empty() {
        ctx.req.query_string().as_bytes().to_vec()
    } else {
        form
    })
}

/// A gem by its exact name.
async fn load_gem(ctx: &Ctx<'_>, name: &str) -> Result<Option<PackageDescriptor>, AppError> {
    let key = packgate_rubygems::similarity_key(name);
    let Some(desc) = packages::load(&ctx.state.db, &ctx.repo.name, &key).await? else {
        return Ok(None);
    };
    Ok((desc.package.name == name).then_some(desc))
}

/// The gemspec stored with a version row.
fn spec_of(v: &crate::services::packages::Version) -> Result<packgate_rubygems::GemSpec, AppError> {
    v.metadata()
}

/// The `info/NAME` body of a gem: one line per non-yanked version, in publication order.
fn info_body(desc: &PackageDescriptor) -> Result<Vec<u8>, AppError> {
    let mut lines = Vec::new();
    for v in desc.versions.iter().filter(|v| !v.version.yanked) {
        let Some((_, b)) = v.files.first() else {
            continue;
        };
        lines.push(packgate_rubygems::info_line(
            &spec_of(&v.version)?,
            &b.sha256,
        ));
    }
    Ok(packgate_rubygems::render_info(&lines))
}
