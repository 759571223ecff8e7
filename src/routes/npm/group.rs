//! npm on a group repository: packuments merged from the members the group's plan asks (rules,
//! then the name claim of hosted members), tarballs from the first member that has them,
//! searches across members, and writes handed to the hosted member holding the package (else
//! `publish_to`).

use super::{Ctx, download, metadata, misc, not_found, proxy};
use crate::error::AppError;
use crate::routes::common::etag;
use crate::routes::common::group::{self as common, MemberDoc};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::group::{Outcome, Plan, Verdict};
use crate::state::GroupCtx;
use actix_web::HttpResponse;

/// A member's packument straight from its renderer (hosted or proxy: the same document its own
/// route serves, read with the member's access rules), without building a response.
async fn member_packument(
    ctx: Ctx<'_>,
    name: String,
    abbreviated: bool,
) -> Result<Option<MemberDoc>, AppError> {
    ctx.allow(Scope::Read).await?;
    Ok(if ctx.repo.proxy.is_some() {
        proxy::rendered(&ctx, &name, abbreviated)
            .await?
            .map(|(doc, served)| MemberDoc {
                body: doc.body,
                etag: Some(doc.etag),
                cache: Some(served.state.as_str().to_string()),
            })
    } else {
        metadata::packument(&ctx, &name, abbreviated)
            .await?
            .map(|(doc, _)| MemberDoc {
                body: doc.body,
                etag: Some(doc.etag),
                cache: None,
            })
    })
}

/// A member's tarball.
async fn member_tarball(
    ctx: Ctx<'_>,
    name: String,
    file: String,
) -> Result<HttpResponse, AppError> {
    if ctx.repo.proxy.is_some() {
        proxy::tarball(&ctx, &name, &file).await
    } else {
        download::get_tarball(&ctx, &name, &file).await
    }
}

/// The merged packument (through the document cache, keyed by the members' ETags), the
/// members' answers, and the plan.
async fn merged<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    name: &str,
) -> Result<(Rendered, Outcome<MemberDoc>, Plan), AppError> {
    let plan = group.group.plan_for(&ctx.state.db, name).await?;
    let abbreviated = metadata::wants_abbreviated(ctx);
    let owned = name.to_string();
    let outcome = common::documents(ctx, group, &plan, move |c| {
        member_packument(c, owned.clone(), abbreviated)
    })
    .await;
    if outcome.found.is_empty() {
        return Err(outcome.nothing(not_found));
    }
    let registry = ctx.repo_url();
    let key = format!(
        "npm-group\0{}\0{name}\0{abbreviated}\0{registry}\0{}",
        ctx.repo.name,
        common::fingerprint(outcome.found.iter().map(|(i, d)| (*i, d)))
    );
    let doc = common::cached(ctx, key, || {
        let bodies: Vec<&[u8]> = outcome.found.iter().map(|(_, d)| d.body.as_ref()).collect();
        let merged =
            packgate_npm::group::merge_packuments(&bodies, name, &registry).map_err(|e| {
                AppError::Upstream(format!("merging the members' packuments of {name}: {e}"))
            })?;
        Ok(Rendered {
            etag: etag::of_bytes(&merged.body),
            digest: String::new(),
            body: bytes::Bytes::from(merged.body),
        })
    })?;
    Ok((doc, outcome, plan))
}

/// `GET /{name}` on a group.
pub async fn packument(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("packument");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let (doc, outcome, _) = merged(ctx, group, name).await?;
    let abbreviated = metadata::wants_abbreviated(ctx);
    let mut res = metadata::respond_packument(ctx, doc, abbreviated, 0);
    common::mark_partial(&mut res, &group.group, &outcome);
    Ok(res)
}

/// The merged full packument as JSON (for versions and dist-tags).
async fn merged_json(ctx: &Ctx<'_>, name: &str) -> Result<serde_json::Value, AppError> {
    let group = common::of(ctx)?;
    let (doc, _, _) = merged(ctx, group, name).await?;
    serde_json::from_slice(&doc.body).map_err(AppError::internal)
}

/// `GET /{name}/{version-or-tag}` on a group: one manifest of the merged packument.
pub async fn version(ctx: &Ctx<'_>, name: &str, wanted: &str) -> Result<HttpResponse, AppError> {
    ctx.label("version");
    ctx.allow(Scope::Read).await?;
    let doc = merged_json(ctx, name).await?;
    let version = doc
        .get("dist-tags")
        .and_then(|t| t.get(wanted))
        .and_then(|v| v.as_str())
        .unwrap_or(wanted);
    let Some(v) = doc.get("versions").and_then(|v| v.get(version)) else {
        return Err(AppError::NotFound(format!(
            "version {wanted:?} of {name} not found"
        )));
    };
    let body = v.to_string();
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("etag", etag::of_bytes(body.as_bytes())))
        .insert_header(("cache-control", "no-cache"))
        .body(body))
}

/// `GET /-/package/{name}/dist-tags` on a group: the merged packument's tags.
pub async fn dist_tags(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("dist-tags");
    ctx.allow(Scope::Read).await?;
    let doc = merged_json(ctx, name).await?;
    let tags = doc
        .get("dist-tags")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("cache-control", "no-cache"))
        .body(tags.to_string()))
}

/// `GET /{name}/-/{file}` on a group: from the first member the plan asks that has it.
pub async fn tarball(ctx: &Ctx<'_>, name: &str, file: &str) -> Result<HttpResponse, AppError> {
    ctx.label("tarball");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let plan = group.group.plan_for(&ctx.state.db, name).await?;
    let (n, f) = (name.to_string(), file.to_string());
    common::first_file(
        ctx,
        group,
        &plan,
        move |c| member_tarball(c, n.clone(), f.clone()),
        not_found,
    )
    .await
}

/// `GET /-/v1/search` on a group: every member's results, a name listed by several kept once
/// (from the earliest member).
pub async fn search(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("search");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let everyone = Plan {
        verdicts: vec![Verdict::Asked; group.members.len()],
    };
    let outcome = common::documents(ctx, group, &everyone, |c| async move {
        if c.repo.proxy.is_some() {
            proxy::search(&c).await
        } else {
            misc::search(&c).await
        }
    })
    .await;
    let mut seen = std::collections::HashSet::new();
    let mut objects = Vec::new();
    for (_, d) in &outcome.found {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&d.body) else {
            continue;
        };
        for o in v
            .get("objects")
            .and_then(|o| o.as_array())
            .into_iter()
            .flatten()
        {
            let name = o
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_string();
            if seen.insert(name) {
                objects.push(o.clone());
            }
        }
    }
    let body = serde_json::json!({
        "objects": objects,
        "total": objects.len(),
        "time": crate::services::time::iso8601(crate::services::time::now_millis()),
    });
    let mut res = HttpResponse::Ok()
        .content_type("application/json")
        .body(body.to_string());
    common::mark_partial(&mut res, &group.group, &outcome);
    Ok(res)
}

/// What `GET /-/api/explain/{group}/{name}` shows for an npm group: the plan, each member's
/// answer for the full packument, and the member supplying each version.
pub async fn explain(
    ctx: &Ctx<'_>,
    name: &str,
) -> Result<crate::routes::common::explain::Explained, AppError> {
    let group = common::of(ctx)?;
    let plan = group.group.plan_for(&ctx.state.db, name).await?;
    let owned = name.to_string();
    let outcome = common::documents(ctx, group, &plan, move |c| {
        member_packument(c, owned.clone(), false)
    })
    .await;
    let mut versions = Vec::new();
    if !outcome.found.is_empty() {
        let bodies: Vec<&[u8]> = outcome.found.iter().map(|(_, d)| d.body.as_ref()).collect();
        if let Ok(merged) = packgate_npm::group::merge_packuments(&bodies, name, &ctx.repo_url()) {
            versions = merged
                .sources
                .iter()
                .map(|s| (s.version.clone(), outcome.found[s.member].0))
                .collect();
        }
    }
    Ok(crate::routes::common::explain::Explained::from_outcome(
        name.to_string(),
        plan,
        &outcome,
        |d: &MemberDoc| d.cache.clone(),
        versions,
    ))
}
