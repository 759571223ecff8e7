//! The `.nuspec` manifest: a strict, non-expanding XML reading of `<package><metadata>`.
//!
//! Follows the NuGet protocol reference §7.1. Elements are matched by local name, so every
//! nuspec namespace (none, and the 2010/07 to 2013/05 `nuspec.xsd` ones) reads the same. The
//! reader refuses DTDs, entity references other than the five predefined ones and numeric
//! character references, input that is not UTF-8, XML that is not well-formed, and nesting
//! deeper than [`MAX_DEPTH`].

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesStart, Event};
use serde::{Deserialize, Serialize};

use crate::names::{IdError, validate_id};
use crate::range::VersionRange;
use crate::version::{NuGetVersion, VersionError};

/// Deepest element nesting accepted (a nuspec needs 5).
pub const MAX_DEPTH: usize = 64;

/// Why a `.nuspec` is refused. [`NuspecError::reason`] gives a fixed HTTP reason phrase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NuspecError {
    /// The XML has a document type declaration.
    #[error("the .nuspec file contains a DOCTYPE declaration; DTDs are not allowed")]
    Dtd,
    /// An entity reference other than `&lt;`, `&gt;`, `&amp;`, `&apos;`, `&quot;` or `&#…;`.
    #[error(
        "the .nuspec file references the entity '&{0};'; only the five predefined XML entities and character references are allowed"
    )]
    Entity(String),
    /// Not well-formed XML: the parser's message with its byte position.
    #[error("the .nuspec file is not well-formed XML: {0}")]
    Malformed(String),
    /// The bytes are not UTF-8 (a UTF-8 byte order mark is fine).
    #[error("the .nuspec file is not UTF-8 encoded")]
    NotUtf8,
    /// Elements nest deeper than [`MAX_DEPTH`].
    #[error("the .nuspec file nests elements more than 64 levels deep")]
    TooDeep,
    /// `<id>` is missing or empty.
    #[error("the .nuspec file has no id")]
    MissingId,
    /// `<version>` is missing or empty.
    #[error("the .nuspec file has no version")]
    MissingVersion,
    /// The package id breaks the id rule.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The package version is not a NuGet version.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// A dependency has a bad id or version range.
    #[error("the dependency '{id}' is not valid: {message}")]
    Dependency {
        /// The dependency id as written (may be empty).
        id: String,
        /// What is wrong with it.
        message: String,
    },
}

impl NuspecError {
    /// A fixed, specific HTTP reason phrase for this kind of error (NuGet clients show only
    /// the status line).
    pub fn reason(&self) -> &'static str {
        match self {
            NuspecError::Dtd | NuspecError::Entity(_) => {
                "The .nuspec file contains a DTD or entity; these are not allowed"
            }
            NuspecError::Malformed(_) | NuspecError::NotUtf8 | NuspecError::TooDeep => {
                "The .nuspec file is not well-formed XML"
            }
            NuspecError::MissingId => "The .nuspec file has no package id",
            NuspecError::MissingVersion => "The .nuspec file has no package version",
            NuspecError::Id(_) => "The package id is not valid",
            NuspecError::Version(_) => "The package version is not a valid NuGet version",
            NuspecError::Dependency { .. } => "A dependency in the .nuspec file is not valid",
        }
    }
}

/// The metadata of a `.nuspec`, strings trimmed, empty values as `None`. It is stored as JSON
/// by the server; every field has a default so older stored documents still read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Nuspec {
    /// The package id as written.
    pub id: String,
    /// The version text as written.
    pub version: String,
    /// `<title>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `<authors>` as written (comma-separated); see [`Nuspec::authors_list`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authors: Option<String>,
    /// `<owners>` as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owners: Option<String>,
    /// `<description>` (required by `nuget pack`, optional here for older packages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `<summary>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `<releaseNotes>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
    /// `<copyright>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    /// `<language>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `<projectUrl>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_url: Option<String>,
    /// `<iconUrl>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// `<icon>`: a path inside the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// `<licenseUrl>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_url: Option<String>,
    /// `<readme>`: a path inside the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readme: Option<String>,
    /// The `minClientVersion` attribute of `<metadata>` (or an element of that name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_client_version: Option<String>,
    /// `<license type="…">`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
    /// `<repository …/>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<Repository>,
    /// `<tags>` split on whitespace and commas.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `<requireLicenseAcceptance>`.
    #[serde(skip_serializing_if = "is_false")]
    pub require_license_acceptance: bool,
    /// `<developmentDependency>`.
    #[serde(skip_serializing_if = "is_false")]
    pub development_dependency: bool,
    /// `<serviceable>`.
    #[serde(skip_serializing_if = "is_false")]
    pub serviceable: bool,
    /// `<dependencies>`: one group per `<group>` (empty ones kept) plus one without target
    /// framework for dependencies written directly under `<dependencies>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependency_groups: Vec<DependencyGroup>,
    /// `<packageTypes>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub package_types: Vec<PackageType>,
}

/// `<license type="expression|file" version="…">value</license>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct License {
    /// The `type` attribute: `expression` or `file`.
    pub kind: String,
    /// The SPDX expression or the file path.
    pub value: String,
    /// The `version` attribute (of the expression syntax).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `<repository type="git" url="…" branch="…" commit="…"/>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Repository {
    /// The `type` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The `url` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The `branch` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The `commit` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The dependencies for one target framework (`None`: any framework, the legacy flat form).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct DependencyGroup {
    /// The `targetFramework` attribute as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_framework: Option<String>,
    /// The dependencies; empty means "supports this framework, needs nothing".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

/// `<dependency id="…" version="…" include="…" exclude="…"/>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Dependency {
    /// The dependency id as written.
    pub id: String,
    /// The raw `version` attribute (a range), trimmed; `None` when absent or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// The `include` attribute (asset types).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// The `exclude` attribute (asset types).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
}

/// `<packageType name="…" version="…"/>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct PackageType {
    /// The type name (`Dependency`, `DotnetTool`, `SymbolsPackage`, …).
    pub name: String,
    /// The `version` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Nuspec {
    /// Whether a package type is `SymbolsPackage` (a `.snupkg`), case-insensitively.
    pub fn is_symbols_package(&self) -> bool {
        self.package_types
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case("SymbolsPackage"))
    }

    /// The authors split on `,`, trimmed, empty ones dropped.
    pub fn authors_list(&self) -> Vec<String> {
        self.authors
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A trimmed copy, `None` when empty.
fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn flag(s: &str) -> bool {
    s.trim().eq_ignore_ascii_case("true")
}

/// Parses and checks a `.nuspec`: well-formed UTF-8 XML without DTD or custom entities,
/// a valid id and version, valid dependency ids and ranges.
pub fn parse_nuspec(xml: &[u8]) -> Result<Nuspec, NuspecError> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let text = std::str::from_utf8(xml).map_err(|_| NuspecError::NotUtf8)?;
    let n = read_xml(text)?;
    if n.id.is_empty() {
        return Err(NuspecError::MissingId);
    }
    if n.version.is_empty() {
        return Err(NuspecError::MissingVersion);
    }
    validate_id(&n.id)?;
    NuGetVersion::parse(&n.version)?;
    for d in n.dependency_groups.iter().flat_map(|g| &g.dependencies) {
        let bad = |message: String| NuspecError::Dependency {
            id: d.id.clone(),
            message,
        };
        validate_id(&d.id).map_err(|e| bad(e.to_string()))?;
        if let Some(r) = &d.range {
            VersionRange::parse(r).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(n)
}

/// The attributes of an element by local name, values unescaped.
fn attributes(e: &BytesStart<'_>) -> Result<Vec<(String, String)>, NuspecError> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| NuspecError::Malformed(e.to_string()))?;
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| match e {
                quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
                    NuspecError::Entity(name)
                }
                other => NuspecError::Malformed(other.to_string()),
            })?;
        out.push((a.key.local_name().as_ref().to_owned(), value.into_owned()));
    }
    Ok(out)
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Walks the XML events, collecting `<package><metadata>` into a [`Nuspec`] (not validated).
fn read_xml(text: &str) -> Result<Nuspec, NuspecError> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.allow_unmatched_ends = false;
    let mut n = Nuspec::default();
    let mut stack: Vec<String> = Vec::new();
    let mut seen_root = false;
    // Text directly inside the current depth-3 element (a child of <metadata>).
    let mut buf = String::new();
    let mut license_attrs: Vec<(String, String)> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| {
            NuspecError::Malformed(format!("{e} (at byte {})", reader.error_position()))
        })?;
        let at = || format!("at byte {}", reader.buffer_position());
        match event {
            Event::Start(e) | Event::Empty(e) if seen_root && stack.is_empty() => {
                let name = e.name().as_ref().to_owned();
                return Err(NuspecError::Malformed(format!(
                    "element <{name}> after the root element ({})",
                    at()
                )));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                if stack.len() >= MAX_DEPTH {
                    return Err(NuspecError::TooDeep);
                }
                let local = e.local_name().as_ref().to_owned();
                if stack.is_empty() && local != "package" {
                    return Err(NuspecError::Malformed(format!(
                        "the root element is <{local}>, not <package>"
                    )));
                }
                seen_root = true;
                let attrs = attributes(e)?;
                start_element(&mut n, &stack, &local, &attrs, &mut license_attrs);
                if empty {
                    end_element(&mut n, &stack, &local, "", &license_attrs);
                } else {
                    stack.push(local);
                    if stack.len() == 3 {
                        buf.clear();
                    }
                }
            }
            Event::End(_) => {
                // Only a child of <metadata> (depth 3) uses the text; deeper elements' text
                // is never collected, so `buf` stays that of the enclosing depth-3 element.
                let local = stack.pop().unwrap_or_default();
                end_element(&mut n, &stack, &local, &buf, &license_attrs);
            }
            Event::Text(t) => {
                let content = t.xml_content(XmlVersion::Implicit1_0);
                if stack.is_empty() && !content.trim().is_empty() {
                    return Err(NuspecError::Malformed(format!(
                        "text outside the root element ({})",
                        at()
                    )));
                }
                if stack.len() == 3 {
                    buf.push_str(&content);
                }
            }
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err(NuspecError::Malformed(format!(
                        "CDATA outside the root element ({})",
                        at()
                    )));
                }
                if stack.len() == 3 {
                    buf.push_str(&c.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match r.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(NuspecError::Entity(other.to_owned())),
                    },
                    Err(e) => return Err(NuspecError::Malformed(format!("{e} ({})", at()))),
                };
                if stack.is_empty() {
                    return Err(NuspecError::Malformed(format!(
                        "reference outside the root element ({})",
                        at()
                    )));
                }
                if stack.len() == 3 {
                    buf.push(c);
                }
            }
            Event::DocType(_) => return Err(NuspecError::Dtd),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(NuspecError::Malformed(format!(
                        "unexpected end of file: <{open}> is not closed"
                    )));
                }
                if !seen_root {
                    return Err(NuspecError::Malformed("there is no root element".into()));
                }
                return Ok(n);
            }
        }
    }
}

/// Handles an opening tag at the depth given by `stack` (its open ancestors).
fn start_element(
    n: &mut Nuspec,
    stack: &[String],
    local: &str,
    attrs: &[(String, String)],
    license_attrs: &mut Vec<(String, String)>,
) {
    let path: Vec<&str> = stack.iter().map(String::as_str).collect();
    match (path.as_slice(), local) {
        (["package"], "metadata") => {
            if let Some(v) = attr(attrs, "minClientVersion").and_then(non_empty) {
                n.min_client_version = Some(v);
            }
        }
        (["package", "metadata"], "license") => *license_attrs = attrs.to_vec(),
        (["package", "metadata"], "repository") => {
            let get = |k| attr(attrs, k).and_then(non_empty);
            n.repository = Some(Repository {
                kind: get("type"),
                url: get("url"),
                branch: get("branch"),
                commit: get("commit"),
            });
        }
        (["package", "metadata", "dependencies"], "group") => {
            n.dependency_groups.push(DependencyGroup {
                target_framework: attr(attrs, "targetFramework").and_then(non_empty),
                dependencies: Vec::new(),
            });
        }
        (["package", "metadata", "dependencies", ..], "dependency") => {
            let get = |k| attr(attrs, k).and_then(non_empty);
            let dep = Dependency {
                id: attr(attrs, "id").unwrap_or_default().trim().to_owned(),
                range: get("version"),
                include: get("include"),
                exclude: get("exclude"),
            };
            let group = if path.len() == 4 && path[3] == "group" {
                n.dependency_groups.last_mut()
            } else if path.len() == 3 {
                let none = n
                    .dependency_groups
                    .iter()
                    .position(|g| g.target_framework.is_none());
                if none.is_none() {
                    n.dependency_groups.push(DependencyGroup::default());
                }
                let i = none.unwrap_or(n.dependency_groups.len() - 1);
                n.dependency_groups.get_mut(i)
            } else {
                None
            };
            if let Some(g) = group {
                g.dependencies.push(dep);
            }
        }
        (["package", "metadata", "packageTypes"], "packageType") => {
            n.package_types.push(PackageType {
                name: attr(attrs, "name").unwrap_or_default().trim().to_owned(),
                version: attr(attrs, "version").and_then(non_empty),
            });
        }
        _ => {}
    }
}

/// Handles a closing tag: `stack` holds its open ancestors, `text` its direct text.
fn end_element(
    n: &mut Nuspec,
    stack: &[String],
    local: &str,
    text: &str,
    license_attrs: &[(String, String)],
) {
    if stack.len() != 2 || stack[0] != "package" || stack[1] != "metadata" {
        return;
    }
    let value = non_empty(text);
    let slot = match local {
        "id" => {
            n.id = value.unwrap_or_default();
            return;
        }
        "version" => {
            n.version = value.unwrap_or_default();
            return;
        }
        "tags" => {
            n.tags = text
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            return;
        }
        "requireLicenseAcceptance" => {
            n.require_license_acceptance = flag(text);
            return;
        }
        "developmentDependency" => {
            n.development_dependency = flag(text);
            return;
        }
        "serviceable" => {
            n.serviceable = flag(text);
            return;
        }
        "license" => {
            n.license = value.map(|value| License {
                kind: attr(license_attrs, "type")
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                value,
                version: attr(license_attrs, "version").and_then(non_empty),
            });
            return;
        }
        "title" => &mut n.title,
        "authors" => &mut n.authors,
        "owners" => &mut n.owners,
        "description" => &mut n.description,
        "summary" => &mut n.summary,
        "releaseNotes" => &mut n.release_notes,
        "copyright" => &mut n.copyright,
        "language" => &mut n.language,
        "projectUrl" => &mut n.project_url,
        "iconUrl" => &mut n.icon_url,
        "icon" => &mut n.icon,
        "licenseUrl" => &mut n.license_url,
        "readme" => &mut n.readme,
        "minClientVersion" => &mut n.min_client_version,
        _ => return,
    };
    if value.is_some() {
        *slot = value;
    }
}
