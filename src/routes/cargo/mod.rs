//! Cargo sparse registry (cargo 1.70+): `config.json`, index files, downloads, and the web API
//! (publish, yank/unyank, owners, search). See `docs/formats/cargo.md` for the URL table.
//!
//! Proxy repositories (`type = "proxy"`) are served by `proxy.rs` and group repositories
//! (`type = "group"`) by `group.rs`, whose routes are guarded to them.
//!
//! Crate names are looked up by their canonical form (ASCII lower-case, `_` folded to `-`); the
//! spelling first published is kept. Owners are the shared package owners (`services::owners`).

mod group;
mod index;
mod owners;
mod proxy;
mod publish;
mod yank;

use crate::error::AppError;
use crate::format::{ApiError, ErrorFormat, FormatModule};
use crate::routes::common::ctx::{Ctx, get_head};
use crate::services::owners as package_owners;
use crate::services::packages::{self, PackageDescriptor};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// The Cargo format.
pub struct CargoModule;

/// Cargo's error body: `{"errors":[{"detail": ...}]}`, which cargo prints for any status.
pub struct Cargo;

/// Handler result with cargo-shaped errors.
pub type CargoResult = Result<HttpResponse, ApiError<Cargo>>;

impl ErrorFormat for Cargo {
    fn render(status: StatusCode, message: &str) -> HttpResponse {
        let mut res = HttpResponse::build(status);
        res.content_type("application/json");
        res.body(packgate_cargo::error_body(message))
    }
}

impl FormatModule for CargoModule {
    fn format(&self) -> crate::format::Format {
        crate::format::Format::Cargo
    }

    fn normalize_name(&self, name: &str) -> String {
        packgate_cargo::canonical_name(name)
    }

    fn routes(&self, cfg: &mut web::ServiceConfig) {
        // Proxy and group repositories first (guarded: hosted ones never match them).
        proxy::routes(cfg);
        group::routes(cfg);
        get_head(cfg, "/index/config.json", index::config_json);
        get_head(cfg, "/index/{tail:.+}", index::index_file);
        get_head(
            cfg,
            "/api/v1/crates/{name}/{version}/download",
            index::download,
        );
        cfg.route("/api/v1/crates/new", web::put().to(publish::publish_crate))
            .route("/api/v1/crates", web::get().to(index::search))
            .route(
                "/api/v1/crates/{name}/{version}/yank",
                web::delete().to(yank::yank),
            )
            .route(
                "/api/v1/crates/{name}/{version}/unyank",
                web::put().to(yank::unyank),
            )
            .route("/api/v1/crates/{name}/owners", web::get().to(owners::list))
            .route("/api/v1/crates/{name}/owners", web::put().to(owners::add))
            .route(
                "/api/v1/crates/{name}/owners",
                web::delete().to(owners::remove),
            )
            .route("/me", web::get().to(index::me))
            .default_service(web::to(not_found_route));
    }

    fn supports_proxy(&self) -> bool {
        true
    }

    fn group_explainer(&self) -> Option<crate::format::Explainer> {
        Some(|ctx, name| Box::pin(group::explain(ctx, name)))
    }
}

crate::invalid_from!(
    packgate_cargo::CrateError,
    packgate_cargo::NameError,
    packgate_cargo::VersionError
);

impl From<packgate_cargo::PublishError> for AppError {
    fn from(e: packgate_cargo::PublishError) -> Self {
        match e {
            // Writing the `.crate` aside failed: the server's problem (a full disk is a 507).
            packgate_cargo::PublishError::Io(io) => io.into(),
            other => AppError::Invalid(other.to_string()),
        }
    }
}

async fn not_found_route(req: HttpRequest) -> CargoResult {
    crate::observe::label(&req, "unknown");
    Err(AppError::NotFound(format!("no such cargo registry endpoint: {}", req.path())).into())
}

/// A crate by any spelling (case and `-`/`_` folded), with everything loaded.
async fn load_crate(ctx: &Ctx<'_>, name: &str) -> Result<PackageDescriptor, AppError> {
    let canonical = packgate_cargo::canonical_name(name);
    packages::load(&ctx.state.db, &ctx.repo.name, &canonical)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!("crate `{name}` does not exist in this registry"))
        })
}

/// Refuses unless the caller owns the crate (admins may act on any crate).
fn require_owner(
    desc: &PackageDescriptor,
    who: &crate::services::auth::Principal,
) -> Result<(), AppError> {
    if package_owners::may_change(who, &package_owners::of(desc)) {
        Ok(())
    } else {
        Err(not_owner(who, &desc.package.name))
    }
}

/// The refusal for a caller who does not own the crate.
fn not_owner(who: &crate::services::auth::Principal, crate_name: &str) -> AppError {
    AppError::Forbidden(format!(
        "user `{}` is not an owner of crate `{crate_name}`; an owner can add you with `cargo owner --add`",
        who.user_name
    ))
}

fn ok_json(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}
