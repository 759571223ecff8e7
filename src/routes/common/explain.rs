//! `GET {base}/-/api/explain/{group}/{name}`: for one package name in a group, which members are
//! asked and why the others are not (routing rule, hosted claim), what each asked member
//! answered (with the cache state of a proxy member's copy), and which member supplies each
//! version. For a name nobody has yet it is a dry run of the rules.

use super::ctx::Ctx;
use crate::error::AppError;
use crate::services::auth::Scope;
use crate::services::group::{Outcome, Plan};
use crate::state::{AppState, GroupCtx, RepoCtx};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;

/// What a format's group routes found for a name (see `FormatModule::explain`).
#[derive(Debug, Clone)]
pub struct Explained {
    /// The name as the packages table keys it (the claim is looked up by it).
    pub normalized: String,
    /// The verdict for each member.
    pub plan: Plan,
    /// The answer of each member, by member index (members not asked: none).
    pub answers: Vec<Option<MemberState>>,
    /// Each version of the merged document and the member supplying it, in the document's order.
    pub versions: Vec<(String, usize)>,
}

/// What one asked member answered.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum MemberState {
    /// It has the package; `cache` is a proxy member's cache state (hit, miss, stale, offline...).
    Found {
        /// `X-Packgate-Cache` of its answer.
        cache: Option<String>,
    },
    /// It does not have it (for a proxy: the upstream said so, or a remembered 404).
    Missing,
    /// It failed.
    Failed {
        /// The error, as the client would see it.
        error: String,
    },
    /// Not asked: an earlier member with `on_not_found = "stop"` did not have the name.
    Stopped,
}

impl Explained {
    /// Collects the member states from an outcome of a group's document lookup.
    pub fn from_outcome<T>(
        normalized: String,
        plan: Plan,
        outcome: &Outcome<T>,
        cache_of: impl Fn(&T) -> Option<String>,
        versions: Vec<(String, usize)>,
    ) -> Explained {
        let mut answers: Vec<Option<MemberState>> = vec![None; plan.verdicts.len()];
        for i in plan.asked() {
            answers[i] = Some(MemberState::Missing);
        }
        for (i, t) in &outcome.found {
            answers[*i] = Some(MemberState::Found { cache: cache_of(t) });
        }
        for (i, e) in &outcome.failed {
            answers[*i] = Some(MemberState::Failed {
                error: e.to_string(),
            });
        }
        for i in &outcome.stopped {
            answers[*i] = Some(MemberState::Stopped);
        }
        Explained {
            normalized,
            plan,
            answers,
            versions,
        }
    }
}

/// The JSON answer.
pub fn render(group: &GroupCtx, name: &str, e: &Explained) -> serde_json::Value {
    let g = &group.group;
    let members: Vec<serde_json::Value> = g
        .settings
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut v = json!({
                "name": m.name,
                "type": if g.hosted[i] { "hosted" } else { "proxy" },
                "on_not_found": match m.on_not_found {
                    crate::config::OnNotFound::Continue => "continue",
                    crate::config::OnNotFound::Stop => "stop",
                },
            });
            if let (Some(obj), Ok(serde_json::Value::Object(verdict))) =
                (v.as_object_mut(), serde_json::to_value(&e.plan.verdicts[i]))
            {
                obj.extend(verdict);
                if let Some(Some(state)) = e.answers.get(i)
                    && let Ok(serde_json::Value::Object(answer)) = serde_json::to_value(state)
                {
                    obj.extend(answer);
                }
            }
            v
        })
        .collect();
    let rule = g
        .settings
        .rules
        .iter()
        .position(|r| r.matches(&e.normalized));
    json!({
        "group": g.name,
        "name": name,
        "normalized": e.normalized,
        "rule": rule.map(|r| r + 1),
        "allow_upstream": crate::config::any_glob(&g.settings.allow_upstream, &e.normalized),
        "publish_to": g.settings.publish_to.map(|i| g.member_name(i).to_string()),
        "members": members,
        "versions": e.versions.iter().map(|(v, i)| json!({"version": v, "member": g.member_name(*i)})).collect::<Vec<_>>(),
    })
}

/// The handler.
pub async fn explain(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, crate::format::ApiError<crate::routes::api::Api>> {
    crate::observe::label(&req, "explain");
    let (group_name, name) = path.into_inner();
    let Some(repo) = state
        .repositories
        .iter()
        .find(|r| r.name == group_name && r.group.is_some())
    else {
        return Err(AppError::NotFound(format!("no group repository named {group_name:?}")).into());
    };
    let ctx = Ctx::new(&req, &state, repo);
    ctx.allow(Scope::Read).await?;
    let group = super::group::of(&ctx)?;
    let Some(explain) = crate::routes::module(repo.format).group_explainer() else {
        return Err(not_supported(repo).into());
    };
    let explained = explain(&ctx, &name).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("cache-control", "no-store"))
        .body(render(group, &name, &explained).to_string()))
}

/// The refusal for a format whose groups are not explained.
fn not_supported(repo: &RepoCtx) -> AppError {
    AppError::NotAllowed(format!(
        "explain is not available for {} groups yet",
        repo.format.id()
    ))
}
