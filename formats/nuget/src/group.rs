//! Group repositories: a group's flat-container version list (`GET {flat}/{id}/index.json`) merged
//! from its members' (hosted and proxy, in precedence order), and the registration entries a
//! group renders its registration index, pages and leaves from; both with the member supplying
//! each version, to route `.nupkg` downloads and explain the merge.
//!
//! Follows the NuGet protocol reference §3.2 (version identity and order), §4.1 (version list)
//! and §5 (registrations). See `docs/formats/nuget.md`.

use std::collections::BTreeMap;

use crate::documents::{RegEntry, flat_versions};
use crate::proxy::{flat_versions_of, lower_version};
use crate::version::NuGetVersion;

/// Why no version list can be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// No member list was given: no member has the package (a 404 for the client).
    #[error("no member of the group has the package")]
    NoMembers,
    /// A member's version list is not a JSON object with a `versions` array of strings.
    #[error("the version list of group member {member} is unusable: {reason}")]
    Malformed {
        /// The member's index in the slice given to the merge.
        member: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Which member supplies one version of a merged list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatSource {
    /// The version, lower-case normalized (as listed and in download URLs).
    pub version: String,
    /// The member's index in the slice given to the merge.
    pub member: usize,
}

/// A flat-container version list merged from a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedFlat {
    /// The merged `{"versions":[…]}`.
    pub body: Vec<u8>,
    /// Every merged version with its supplier, ascending (the order of `body`).
    pub sources: Vec<FlatSource>,
    /// Listed strings left out because they are not NuGet versions.
    pub malformed: usize,
}

impl MergedFlat {
    /// The member supplying `version` (any spelling of it: `1.0`, `1.0.0.0`, upper case).
    pub fn member_of(&self, version: &str) -> Option<usize> {
        let wanted = lower_version(version);
        self.sources
            .iter()
            .find(|s| s.version == wanted)
            .map(|s| s.member)
    }
}

/// Merges the flat-container `index.json` bodies (plain or gzip) of the members that have the
/// package, in member order (indexes in the result refer to `members`; leave out members without
/// the package). The result lists the union of their versions, lower-case normalized, in NuGet
/// order, each once (NuGet identity: `1.0` is `1.0.0`, release labels ignore case, metadata is
/// ignored); a version listed by several members comes from the earliest. Listed strings that
/// are not NuGet versions are left out: restore in NuGet.Client 6.x (nuget.exe, the .NET SDK)
/// reads this list with `NuGetVersion.Parse` (`HttpFileSystemBasedFindPackageByIdResource`) and
/// fails the whole source on one that does not parse; re-check by listing `1.0.0-` in a member and
/// running `dotnet restore` against the group.
pub fn merge_flat_index(members: &[&[u8]]) -> Result<MergedFlat, GroupError> {
    if members.is_empty() {
        return Err(GroupError::NoMembers);
    }
    let mut picked: BTreeMap<NuGetVersion, usize> = BTreeMap::new();
    let mut malformed = 0;
    for (member, body) in members.iter().enumerate() {
        let listed =
            flat_versions_of(body).map_err(|reason| GroupError::Malformed { member, reason })?;
        for text in listed {
            match NuGetVersion::parse(&text) {
                Ok(version) => {
                    picked.entry(version).or_insert(member);
                }
                Err(_) => malformed += 1,
            }
        }
    }
    let sources: Vec<FlatSource> = picked
        .into_iter()
        .map(|(version, member)| FlatSource {
            version: version.lower(),
            member,
        })
        .collect();
    let lower: Vec<String> = sources.iter().map(|s| s.version.clone()).collect();
    Ok(MergedFlat {
        body: flat_versions(&lower),
        sources,
        malformed,
    })
}

/// Registration entries merged from a group's members, ready for
/// [`crate::registration_index`], [`crate::registration_page`] and [`crate::registration_leaf`].
#[derive(Debug, Clone)]
pub struct MergedEntries<'a> {
    /// One entry per version, ascending.
    pub entries: Vec<RegEntry<'a>>,
    /// The supplying member of each entry (same positions as `entries`).
    pub members: Vec<usize>,
}

/// Merges the registration entries of the members that have the package, in member order
/// (indexes in the result refer to `members`): one entry per version (NuGet identity), from the
/// earliest member listing it, ascending. Every entry shows the `display_id` of the first entry of
/// the earliest member, so the group's documents spell the id one way, as a hosted feed does.
pub fn merge_registration_entries<'a>(members: &[&[RegEntry<'a>]]) -> MergedEntries<'a> {
    let display_id = members.iter().flat_map(|m| m.first()).next();
    let display_id = display_id.map(|e| e.display_id);
    let mut picked: BTreeMap<&NuGetVersion, (RegEntry<'a>, usize)> = BTreeMap::new();
    for (member, entries) in members.iter().enumerate() {
        for entry in entries.iter() {
            picked.entry(entry.version).or_insert((*entry, member));
        }
    }
    let (entries, members) = picked
        .into_values()
        .map(|(mut entry, member)| {
            if let Some(id) = display_id {
                entry.display_id = id;
            }
            (entry, member)
        })
        .unzip();
    MergedEntries { entries, members }
}
