//! The keys of a `type = "group"` repository: its members (in precedence order, each optionally
//! with its own `on_not_found`, `timeout` and `retries`), `publish_to`, routing rules by package
//! name and `allow_upstream`; checked at start-up against the other repositories.

use super::proxy::glob_match;
use super::span::Span;
use super::{RepoKind, RepositoryConfig};
use serde::Deserialize;
use std::time::Duration;

/// One entry of `members`: a repository name, or a table with the name and its settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MemberSpec {
    /// `"npm-internal"`.
    Name(String),
    /// `{ name = "npmjs", on_not_found = "stop", timeout = "10s", retries = 1 }`.
    Table(MemberTable),
}

/// A member with its settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberTable {
    /// The member repository.
    pub name: String,
    /// What a "not found" from this member means for the members after it.
    #[serde(default)]
    pub on_not_found: Option<OnNotFound>,
    /// Longest wait for this member's answer.
    #[serde(default)]
    pub timeout: Option<Span>,
    /// How many times a failed answer of this member is asked again.
    #[serde(default)]
    pub retries: Option<u32>,
}

/// `on_not_found` of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnNotFound {
    /// The members after it are asked too (the default).
    #[default]
    Continue,
    /// When this member does not have a name, the members after it are not asked for it.
    Stop,
}

/// One `[[repository.route]]`: for names matching `names`, only the `only` members are asked, or
/// the `exclude` members are not.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// Package-name globs (`*` wildcard).
    pub names: Vec<String>,
    /// The only members asked for these names.
    #[serde(default)]
    pub only: Option<Vec<String>>,
    /// Members never asked for these names.
    #[serde(default)]
    pub exclude: Option<Vec<String>>,
}

/// A member as the server uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSettings {
    /// The member repository.
    pub name: String,
    /// What its "not found" means.
    pub on_not_found: OnNotFound,
    /// Longest wait for its answer.
    pub timeout: Duration,
    /// How many times a failed answer is asked again.
    pub retries: u32,
}

/// A rule as the server uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Package-name globs.
    pub names: Vec<String>,
    /// Only these members (indexes into the members).
    pub only: Option<Vec<usize>>,
    /// Never these members (indexes into the members).
    pub exclude: Vec<usize>,
}

impl Rule {
    /// Whether the rule applies to `name`.
    pub fn matches(&self, name: &str) -> bool {
        self.names.iter().any(|g| glob_match(g, name))
    }
}

/// The settings of a group repository, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// The members in precedence order.
    pub members: Vec<MemberSettings>,
    /// The member publishes to the group go to (index into the members).
    pub publish_to: Option<usize>,
    /// Routing rules, first match wins.
    pub rules: Vec<Rule>,
    /// Names (globs) that proxy members may supply even when a hosted member holds the name.
    pub allow_upstream: Vec<String>,
}

/// A member's default answer timeout.
const DEFAULT_MEMBER_TIMEOUT: Duration = Duration::from_secs(60);

impl MemberSpec {
    fn name(&self) -> &str {
        match self {
            MemberSpec::Name(n) => n,
            MemberSpec::Table(t) => &t.name,
        }
    }
}

impl RepositoryConfig {
    /// The checked settings of a `type = "group"` repository, given every repository declared:
    /// members exist, are of the group's format, are hosted or proxy repositories and appear once;
    /// `publish_to` is a hosted member; rules name members. Errors name the repository.
    pub fn group_settings(&self, all: &[RepositoryConfig]) -> anyhow::Result<GroupSettings> {
        let name = &self.name;
        if self.members.is_empty() {
            anyhow::bail!(
                "repository {name:?}: a group needs `members`, the repositories it joins"
            );
        }
        let mut members = Vec::new();
        for spec in &self.members {
            let m = spec.name();
            let Some(repo) = all.iter().find(|r| r.name == m) else {
                anyhow::bail!("repository {name:?}: member {m:?} is not a declared repository");
            };
            if m == name {
                anyhow::bail!("repository {name:?}: a group cannot be its own member");
            }
            if repo.format != self.format {
                anyhow::bail!(
                    "repository {name:?}: member {m:?} is a {} repository, the group is {}",
                    repo.format.id(),
                    self.format.id()
                );
            }
            if repo.kind == RepoKind::Group {
                anyhow::bail!(
                    "repository {name:?}: member {m:?} is a group; list its members instead (groups of groups are not supported)"
                );
            }
            if members.iter().any(|x: &MemberSettings| x.name == m) {
                anyhow::bail!("repository {name:?}: member {m:?} is listed twice");
            }
            let (on_not_found, timeout, retries) = match spec {
                MemberSpec::Name(_) => (OnNotFound::default(), None, None),
                MemberSpec::Table(t) => (t.on_not_found.unwrap_or_default(), t.timeout, t.retries),
            };
            let timeout = timeout.map_or(DEFAULT_MEMBER_TIMEOUT, |s| s.0);
            if timeout.is_zero() {
                anyhow::bail!("repository {name:?}: member {m:?} has a timeout of 0");
            }
            members.push(MemberSettings {
                name: m.to_string(),
                on_not_found,
                timeout,
                retries: retries.unwrap_or(0).min(5),
            });
        }
        let index = |what: &str, m: &str| -> anyhow::Result<usize> {
            members.iter().position(|x| x.name == m).ok_or_else(|| {
                anyhow::anyhow!("repository {name:?}: {what} names {m:?}, which is not a member")
            })
        };
        let publish_to = match &self.publish_to {
            None => None,
            Some(p) => {
                let i = index("publish_to", p)?;
                let hosted = all
                    .iter()
                    .any(|r| r.name == *p && r.kind == RepoKind::Hosted);
                if !hosted {
                    anyhow::bail!(
                        "repository {name:?}: publish_to names {p:?}, which is not a hosted repository"
                    );
                }
                Some(i)
            }
        };
        let mut rules = Vec::new();
        for (n, r) in self.route.iter().enumerate() {
            if r.names.is_empty() {
                anyhow::bail!("repository {name:?}: route rule {} has no `names`", n + 1);
            }
            if r.only.is_none() && r.exclude.is_none() {
                anyhow::bail!(
                    "repository {name:?}: route rule {} needs `only` or `exclude`",
                    n + 1
                );
            }
            let only = match &r.only {
                Some(list) => Some(
                    list.iter()
                        .map(|m| index("a route rule's `only`", m))
                        .collect::<anyhow::Result<Vec<_>>>()?,
                ),
                None => None,
            };
            let exclude = r
                .exclude
                .iter()
                .flatten()
                .map(|m| index("a route rule's `exclude`", m))
                .collect::<anyhow::Result<Vec<_>>>()?;
            rules.push(Rule {
                names: r.names.clone(),
                only,
                exclude,
            });
        }
        Ok(GroupSettings {
            members,
            publish_to,
            rules,
            allow_upstream: self.allow_upstream.clone(),
        })
    }

    /// Refuses group keys on a repository that is not a group.
    pub fn refuse_group_keys(&self) -> anyhow::Result<()> {
        let set = [
            ("members", !self.members.is_empty()),
            ("publish_to", self.publish_to.is_some()),
            ("route", !self.route.is_empty()),
            ("allow_upstream", !self.allow_upstream.is_empty()),
        ];
        if let Some((key, _)) = set.iter().find(|(_, on)| *on) {
            anyhow::bail!(
                "repository {:?}: `{key}` is a setting of group repositories, this one is {}",
                self.name,
                self.kind
            );
        }
        Ok(())
    }
}

/// Whether a format's name matches any glob (for `allow_upstream`).
pub fn any_glob(globs: &[String], name: &str) -> bool {
    globs.iter().any(|g| glob_match(g, name))
}
