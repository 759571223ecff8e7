//! Group repositories, format-blind: which members are asked for a package name (routing rules,
//! then the name claim of hosted members) and what their answers add up to (precedence,
//! `on_not_found = "stop"`, failures). The formats merge the documents with their codecs
//! (`formats/<fmt>/src/group.rs`).

use crate::config::{GroupSettings, OnNotFound, any_glob};
use crate::db::Db;
use crate::error::AppError;
use serde::Serialize;

/// A group: its name and checked settings, and which members are hosted.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group repository's name.
    pub name: String,
    /// Members, rules, `publish_to`, `allow_upstream`.
    pub settings: GroupSettings,
    /// Per member: whether it is a hosted repository (else a proxy).
    pub hosted: Vec<bool>,
}

/// Why a member is or is not asked for a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The member is asked.
    Asked,
    /// A routing rule (1-based) lists the member in `exclude`.
    ExcludedByRule {
        /// The rule's number.
        rule: usize,
    },
    /// A routing rule (1-based) has an `only` list without the member.
    NotInOnlyList {
        /// The rule's number.
        rule: usize,
    },
    /// A proxy member left out because a hosted member holds the name (dependency confusion).
    ClaimedByHosted {
        /// The hosted member holding the name.
        member: String,
    },
}

/// The verdict for every member, in member order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One per member.
    pub verdicts: Vec<Verdict>,
}

impl Plan {
    /// The members asked, in precedence order.
    pub fn asked(&self) -> impl Iterator<Item = usize> + '_ {
        self.verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == Verdict::Asked)
            .map(|(i, _)| i)
    }
}

/// What one member answered.
#[derive(Debug)]
pub enum Answer<T> {
    /// It has the thing.
    Found(T),
    /// It does not have it.
    Missing,
    /// It failed (upstream down, timeout, error).
    Failed(AppError),
}

/// The members' answers taken together.
#[derive(Debug)]
pub struct Outcome<T> {
    /// What the members that have it answered, in precedence order (member index, answer).
    pub found: Vec<(usize, T)>,
    /// Members that failed (member index, error).
    pub failed: Vec<(usize, AppError)>,
    /// Members not asked because an earlier one with `on_not_found = "stop"` did not have it.
    pub stopped: Vec<usize>,
}

impl Group {
    /// Which members are asked for `name`: the first routing rule matching the name applies
    /// (`only`, `exclude`); then, when a hosted member holds the name (`claimed_by`), proxy
    /// members are left out unless `allow_upstream` matches the name.
    pub fn plan(&self, name: &str, claimed_by: Option<usize>) -> Plan {
        let s = &self.settings;
        let rule = s.rules.iter().position(|r| r.matches(name));
        let open_upstream = any_glob(&s.allow_upstream, name);
        let verdicts = (0..s.members.len())
            .map(|i| {
                if let Some(n) = rule {
                    let r = &s.rules[n];
                    if r.exclude.contains(&i) {
                        return Verdict::ExcludedByRule { rule: n + 1 };
                    }
                    if r.only.as_ref().is_some_and(|only| !only.contains(&i)) {
                        return Verdict::NotInOnlyList { rule: n + 1 };
                    }
                }
                match claimed_by {
                    Some(c) if !self.hosted[i] && !open_upstream => Verdict::ClaimedByHosted {
                        member: s.members[c].name.clone(),
                    },
                    _ => Verdict::Asked,
                }
            })
            .collect();
        Plan { verdicts }
    }

    /// The first hosted member holding the package `normalized` (the format's lookup key), if any.
    pub async fn claimant(&self, db: &Db, normalized: &str) -> Result<Option<usize>, AppError> {
        for (i, m) in self.settings.members.iter().enumerate() {
            if self.hosted[i]
                && super::packages::find(db, &m.name, normalized)
                    .await?
                    .is_some()
            {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// The plan for `normalized`, with the claim looked up.
    pub async fn plan_for(&self, db: &Db, normalized: &str) -> Result<Plan, AppError> {
        let claimed = self.claimant(db, normalized).await?;
        Ok(self.plan(normalized, claimed))
    }

    /// Takes the answers of the asked members (in precedence order) together: a "not found" from
    /// a member with `on_not_found = "stop"` drops the answers of the members after it.
    pub fn outcome<T>(&self, answers: Vec<(usize, Answer<T>)>) -> Outcome<T> {
        let mut out = Outcome {
            found: Vec::new(),
            failed: Vec::new(),
            stopped: Vec::new(),
        };
        let mut stop = false;
        for (i, answer) in answers {
            if stop {
                out.stopped.push(i);
                continue;
            }
            match answer {
                Answer::Found(t) => out.found.push((i, t)),
                Answer::Missing => {
                    stop = self.settings.members[i].on_not_found == OnNotFound::Stop;
                }
                Answer::Failed(e) => out.failed.push((i, e)),
            }
        }
        out
    }

    /// The member publishes to the group go to, if any.
    pub fn publish_member(&self) -> Option<usize> {
        self.settings.publish_to
    }

    /// A member's name.
    pub fn member_name(&self, i: usize) -> &str {
        &self.settings.members[i].name
    }
}

impl<T> Outcome<T> {
    /// The error to answer when no member has the thing: a failure of a member that might hold
    /// it (never a 404 then), else `not_found`.
    pub fn nothing(self, not_found: impl FnOnce() -> AppError) -> AppError {
        match self.failed.into_iter().next() {
            Some((_, e)) => e,
            None => not_found(),
        }
    }

    /// The names of the failed members, comma-separated (the partial-answer header).
    pub fn failed_names(&self, group: &Group) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        Some(
            self.failed
                .iter()
                .map(|(i, _)| group.member_name(*i))
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Answer, Group, Verdict};
    use crate::config::{GroupSettings, MemberSettings, OnNotFound, Rule};
    use crate::error::AppError;
    use std::time::Duration;

    fn group(stop_first: bool) -> Group {
        let member = |name: &str, stop: bool| MemberSettings {
            name: name.into(),
            on_not_found: if stop {
                OnNotFound::Stop
            } else {
                OnNotFound::Continue
            },
            timeout: Duration::from_secs(1),
            retries: 0,
        };
        Group {
            name: "all".into(),
            settings: GroupSettings {
                members: vec![
                    member("internal", stop_first),
                    member("mirror", false),
                    member("public", false),
                ],
                publish_to: Some(0),
                rules: vec![
                    Rule {
                        names: vec!["@acme/*".into()],
                        only: Some(vec![0]),
                        exclude: vec![],
                    },
                    Rule {
                        names: vec!["left-pad".into(), "@acme/*".into()],
                        only: None,
                        exclude: vec![2],
                    },
                ],
                allow_upstream: vec!["shared-*".into()],
            },
            hosted: vec![true, false, false],
        }
    }

    #[test]
    fn the_first_matching_rule_decides_and_a_hosted_claim_shuts_out_proxies() {
        let g = group(false);
        let plan = g.plan("@acme/x", None);
        assert_eq!(
            plan.verdicts,
            [
                Verdict::Asked,
                Verdict::NotInOnlyList { rule: 1 },
                Verdict::NotInOnlyList { rule: 1 }
            ]
        );
        let plan = g.plan("left-pad", None);
        assert_eq!(plan.asked().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(plan.verdicts[2], Verdict::ExcludedByRule { rule: 2 });
        let plan = g.plan("foo", Some(0));
        assert_eq!(plan.asked().collect::<Vec<_>>(), [0]);
        assert_eq!(
            plan.verdicts[1],
            Verdict::ClaimedByHosted {
                member: "internal".into()
            }
        );
        assert_eq!(g.plan("shared-util", Some(0)).asked().count(), 3);
    }

    #[test]
    fn a_stop_member_that_lacks_a_name_ends_the_search_and_failures_are_never_a_404() {
        let g = group(true);
        let out = g.outcome(vec![
            (0, Answer::<u8>::Missing),
            (1, Answer::Found(1)),
            (2, Answer::Found(2)),
        ]);
        assert!(out.found.is_empty());
        assert_eq!(out.stopped, [1, 2]);
        let g = group(false);
        let out = g.outcome(vec![
            (0, Answer::<u8>::Missing),
            (1, Answer::Failed(AppError::UpstreamDown("down".into()))),
            (2, Answer::Missing),
        ]);
        assert_eq!(out.failed_names(&g).as_deref(), Some("mirror"));
        let err = out.nothing(|| AppError::NotFound("no".into()));
        assert_eq!(err.status().as_u16(), 503);
    }
}
