//! The gemspec inside `metadata.gz`: the fields packgate needs, read from the YAML `gem build`
//! writes without instantiating anything.
//!
//! Follows the RubyGems protocol reference §5.1 step 2 (the gemspec YAML and its tags) and §2
//! (name, version and platform rules). See `docs/formats/rubygems.md`.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::GemError;
use super::yaml::{self, Class, Node, Value};
use crate::names::{validate_name, validate_platform, validate_version};

/// The requirement operators `Gem::Requirement` knows.
const OPERATORS: [&str; 7] = ["=", "!=", ">", "<", ">=", "<=", "~>"];

/// The gemspec fields packgate needs, from the YAML in metadata.gz.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GemSpec {
    /// Gem name, as written (case-sensitive).
    pub name: String,
    /// `Gem::Version` string, e.g. `1.0.0.pre.beta`.
    pub version: String,
    /// `ruby` or `Gem::Platform#to_s`, e.g. `x86_64-linux`.
    pub platform: String,
    /// One-line summary.
    pub summary: Option<String>,
    /// Longer description.
    pub description: Option<String>,
    /// Author names.
    pub authors: Vec<String>,
    /// E-mail addresses (a single string in the YAML becomes one element).
    pub email: Vec<String>,
    /// Home page URL.
    pub homepage: Option<String>,
    /// SPDX license identifiers.
    pub licenses: Vec<String>,
    /// `metadata`: string keys to string values (`source_code_uri`, `allowed_push_host`, ...).
    pub metadata: BTreeMap<String, String>,
    /// `required_ruby_version` as (operator, version) pairs; empty when absent.
    pub required_ruby_version: Vec<(String, String)>,
    /// `required_rubygems_version` as (operator, version) pairs; empty when absent.
    pub required_rubygems_version: Vec<(String, String)>,
    /// Runtime and development dependencies, in gemspec order.
    pub dependencies: Vec<GemDependency>,
    /// The RubyGems version that built the gem.
    pub rubygems_version: Option<String>,
}

/// One `Gem::Dependency` of a gemspec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GemDependency {
    /// Name of the gem depended on.
    pub name: String,
    /// (operator, version) pairs, e.g. `(">=", "1.0")`; `[(">=", "0")]` means any version.
    pub requirements: Vec<(String, String)>,
    /// `type: :runtime` (true) or `type: :development` (false).
    pub runtime: bool,
}

/// Parses gemspec YAML (as `gem build` writes it) WITHOUT instantiating anything: only these
/// tags are allowed: !ruby/object:Gem::Specification, !ruby/object:Gem::Version,
/// !ruby/object:Gem::Requirement, !ruby/object:Gem::Dependency, !ruby/object:Gem::Platform, plus
/// plain YAML scalars/sequences/maps (and the `!binary` scalar, base64); any other tag (e.g.
/// !ruby/object:Foo, !ruby/hash-with-ivars, !!python) is an error naming it; aliases/anchors
/// beyond 100 uses or depth > 32 are errors (billion laughs). `type: :runtime` symbols appear as
/// plain scalars starting with ':'. Validates name, version, platform with the functions above.
pub fn parse_spec(yaml: &str) -> Result<GemSpec, GemError> {
    let root = yaml::parse(yaml.strip_prefix('\u{feff}').unwrap_or(yaml))?;
    if !matches!(root.value, Value::Map(_))
        || !matches!(root.class, Class::Plain | Class::Specification)
    {
        return Err(GemError::NotASpec);
    }
    let name = string(root.get("name"), "name")?.ok_or(GemError::MissingField("name"))?;
    validate_name(&name)?;
    let version =
        version(root.get("version"), "version")?.ok_or(GemError::MissingField("version"))?;
    validate_version(&version)?;
    let platform = validate_platform(&platform(root.get("platform"))?.unwrap_or_default())?;
    let dependencies = match root.get("dependencies") {
        None => Vec::new(),
        Some(node) => items(node, "dependencies")?
            .enumerate()
            .map(|(i, dep)| dependency(dep, i))
            .collect::<Result<_, _>>()?,
    };
    let licenses = match strings(root.get("licenses"), "licenses")? {
        none if none.is_empty() => strings(root.get("license"), "license")?,
        some => some,
    };
    Ok(GemSpec {
        summary: string(root.get("summary"), "summary")?,
        description: string(root.get("description"), "description")?,
        authors: strings(root.get("authors"), "authors")?,
        email: strings(root.get("email"), "email")?,
        homepage: string(root.get("homepage"), "homepage")?,
        licenses,
        metadata: metadata(root.get("metadata"))?,
        required_ruby_version: requirement(
            root.get("required_ruby_version"),
            "required_ruby_version",
        )?,
        required_rubygems_version: requirement(
            root.get("required_rubygems_version"),
            "required_rubygems_version",
        )?,
        dependencies,
        rubygems_version: string(root.get("rubygems_version"), "rubygems_version")?,
        name,
        version,
        platform,
    })
}

/// An error about `field`.
fn invalid(field: impl Into<String>, reason: &'static str) -> GemError {
    GemError::InvalidField {
        field: field.into(),
        reason,
    }
}

/// A scalar as a string; `None` when absent or null.
fn string(node: Option<&Node>, field: &str) -> Result<Option<String>, GemError> {
    match node.map(|n| &n.value) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Scalar(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(field, "expected a string")),
    }
}

/// A list of strings; a single string becomes one element, nulls are skipped.
fn strings(node: Option<&Node>, field: &str) -> Result<Vec<String>, GemError> {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => Ok(items
            .iter()
            .map(|n| string(Some(n), field))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect()),
        _ => Ok(string(node, field)?.into_iter().collect()),
    }
}

/// The elements of a sequence (null counts as empty).
fn items<'a>(node: &'a Node, field: &str) -> Result<impl Iterator<Item = &'a Node>, GemError> {
    let list: &[Rc<Node>] = match &node.value {
        Value::Seq(items) => items,
        Value::Null => &[],
        _ => return Err(invalid(field, "expected a list")),
    };
    Ok(list.iter().map(|n| &**n))
}

/// A `Gem::Version` mapping (`version: '1.0'`) or a plain version string.
fn version(node: Option<&Node>, field: &str) -> Result<Option<String>, GemError> {
    match node {
        Some(
            n @ Node {
                value: Value::Map(_),
                ..
            },
        ) => string(n.get("version"), field),
        other => string(other, field),
    }
}

/// A platform string, or a `Gem::Platform` mapping (`cpu`, `os`, `version`) joined with `-`.
fn platform(node: Option<&Node>) -> Result<Option<String>, GemError> {
    match node {
        Some(
            n @ Node {
                value: Value::Map(_),
                ..
            },
        ) => {
            let mut parts = Vec::new();
            for key in ["cpu", "os", "version"] {
                parts.extend(string(n.get(key), "platform")?);
            }
            Ok(Some(parts.join("-")))
        }
        other => string(other, "platform"),
    }
}

/// A `Gem::Requirement`: `requirements: [[op, Gem::Version], ...]`; empty when absent.
fn requirement(node: Option<&Node>, field: &str) -> Result<Vec<(String, String)>, GemError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let list = match &node.value {
        Value::Null => return Ok(Vec::new()),
        Value::Map(_) => match node.get("requirements") {
            Some(list) => list,
            None => return Ok(Vec::new()),
        },
        _ => return Err(invalid(field, "expected a Gem::Requirement")),
    };
    let mut out = Vec::new();
    for pair in items(list, field)? {
        let Value::Seq(parts) = &pair.value else {
            return Err(invalid(field, "expected [operator, version] pairs"));
        };
        let [op, v] = parts.as_slice() else {
            return Err(invalid(field, "expected [operator, version] pairs"));
        };
        let op = string(Some(op), field)?.ok_or_else(|| invalid(field, "missing operator"))?;
        if !OPERATORS.contains(&op.as_str()) {
            return Err(invalid(field, "unknown requirement operator"));
        }
        let v = version(Some(v), field)?.ok_or_else(|| invalid(field, "missing version"))?;
        validate_version(&v)?;
        out.push((op, v));
    }
    Ok(out)
}

/// One `Gem::Dependency` (the `i`-th, for error messages).
fn dependency(node: &Node, i: usize) -> Result<GemDependency, GemError> {
    let field = format!("dependencies[{i}]");
    if !matches!(node.value, Value::Map(_)) {
        return Err(invalid(field, "expected a Gem::Dependency"));
    }
    let name = string(node.get("name"), &field)?.ok_or_else(|| invalid(&*field, "missing name"))?;
    validate_name(&name)?;
    let req = node
        .get("requirement")
        .or_else(|| node.get("version_requirements"));
    let mut requirements = requirement(req, &field)?;
    if requirements.is_empty() {
        requirements.push((">=".to_owned(), "0".to_owned()));
    }
    let runtime = match string(node.get("type"), &field)?.as_deref() {
        None | Some(":runtime") => true,
        Some(":development") => false,
        Some(_) => return Err(invalid(field, "type must be :runtime or :development")),
    };
    Ok(GemDependency {
        name,
        requirements,
        runtime,
    })
}

/// `metadata`: a mapping of strings to strings (null values skipped).
fn metadata(node: Option<&Node>) -> Result<BTreeMap<String, String>, GemError> {
    let mut out = BTreeMap::new();
    match node.map(|n| &n.value) {
        None | Some(Value::Null) => {}
        Some(Value::Map(pairs)) => {
            for (k, v) in pairs {
                let key = string(Some(k), "metadata")?
                    .ok_or_else(|| invalid("metadata", "keys must be strings"))?;
                if let Some(value) = string(Some(v), "metadata")? {
                    out.insert(key, value);
                }
            }
        }
        Some(_) => return Err(invalid("metadata", "expected a mapping")),
    }
    Ok(out)
}
