//! A safe YAML reader for gemspecs: builds a small tree from yaml-rust2's low-level events,
//! so every tag is seen and checked, and nothing is ever instantiated.
//!
//! Only the tags `gem build` writes are allowed (protocol §5.1 step 2): the five
//! `!ruby/object:Gem::*` classes packgate reads, `!binary` and the core `!!` scalar and
//! collection tags. Anchors are shared (`Rc`), never copied, and three limits stop "billion
//! laughs" documents: alias uses, nesting depth, and the size of the tree as if every alias were
//! expanded. See `docs/formats/rubygems.md`.

use std::collections::HashMap;
use std::rc::Rc;

use base64::Engine;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use super::GemError;

/// Most alias (`*name`) uses in one document.
pub(crate) const MAX_ALIASES: usize = 100;
/// Deepest nesting of sequences and mappings.
pub(crate) const MAX_DEPTH: usize = 32;
/// Most nodes in the document with every alias expanded.
pub(crate) const MAX_NODES: usize = 1_000_000;

/// The class a node was tagged with, if any (untagged and core-tagged nodes are `Plain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// No Ruby class: a plain scalar, sequence or mapping.
    Plain,
    /// `!ruby/object:Gem::Specification`.
    Specification,
    /// `!ruby/object:Gem::Version`.
    Version,
    /// `!ruby/object:Gem::Requirement`.
    Requirement,
    /// `!ruby/object:Gem::Dependency`.
    Dependency,
    /// `!ruby/object:Gem::Platform`.
    Platform,
}

/// The content of a node.
#[derive(Debug)]
pub(crate) enum Value {
    /// An untagged plain `~`, `null` or empty scalar, or one tagged `!!null`.
    Null,
    /// Any other scalar, as text (`!binary` already decoded).
    Scalar(String),
    /// A sequence.
    Seq(Vec<Rc<Node>>),
    /// A mapping, pairs in document order.
    Map(Vec<(Rc<Node>, Rc<Node>)>),
}

/// One YAML node.
#[derive(Debug)]
pub(crate) struct Node {
    /// The Ruby class of its tag.
    pub(crate) class: Class,
    /// Its content.
    pub(crate) value: Value,
    /// Number of nodes below and including it, aliases expanded.
    weight: usize,
}

impl Node {
    /// The value of the last pair whose key is the scalar `key` (Psych keeps the last one).
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        let Value::Map(pairs) = &self.value else {
            return None;
        };
        pairs.iter().rev().find_map(|(k, v)| match &k.value {
            Value::Scalar(s) if s == key => Some(&**v),
            _ => None,
        })
    }
}

/// A sequence or mapping whose end event has not arrived yet.
struct Open {
    /// Its anchor id (0 for none).
    anchor: usize,
    /// The class of its tag.
    class: Class,
    /// Its children so far (keys and values alternate in a mapping).
    items: Vec<Rc<Node>>,
    /// A mapping rather than a sequence.
    is_map: bool,
    /// Nodes so far, aliases expanded, itself included.
    weight: usize,
}

/// Parses the first document of `text` into a tree, checking tags and limits as events arrive.
pub(crate) fn parse(text: &str) -> Result<Rc<Node>, GemError> {
    let mut parser = Parser::new_from_str(text);
    let mut anchors: HashMap<usize, Rc<Node>> = HashMap::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut aliases = 0;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| GemError::Yaml(e.to_string()))?;
        let at = || format!("line {} column {}", mark.line(), mark.col() + 1);
        let (anchor, node) = match event {
            Event::StreamStart | Event::DocumentStart | Event::Nothing => continue,
            Event::DocumentEnd | Event::StreamEnd => {
                return Err(GemError::Yaml("the document is empty".into()));
            }
            Event::Alias(id) => {
                aliases += 1;
                if aliases > MAX_ALIASES {
                    return Err(GemError::TooManyAliases(MAX_ALIASES));
                }
                let node = anchors.get(&id).cloned().ok_or_else(|| {
                    GemError::Yaml(format!("alias to an unfinished anchor at {}", at()))
                })?;
                (0, node)
            }
            Event::Scalar(text, style, anchor, tag) => (anchor, Rc::new(scalar(text, style, tag)?)),
            Event::SequenceStart(anchor, tag) => {
                stack.push(open(stack.len(), anchor, tag, false, at)?);
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                stack.push(open(stack.len(), anchor, tag, true, at)?);
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let open = stack
                    .pop()
                    .ok_or_else(|| GemError::Yaml(format!("unbalanced end at {}", at())))?;
                (open.anchor, Rc::new(close(open)))
            }
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => return Ok(node),
            Some(open) => {
                open.weight = open.weight.saturating_add(node.weight);
                if open.weight > MAX_NODES {
                    return Err(GemError::TooManyNodes(MAX_NODES));
                }
                open.items.push(node);
            }
        }
    }
}

/// A new open sequence or mapping at nesting `depth` (0 for the root).
fn open(
    depth: usize,
    anchor: usize,
    tag: Option<Tag>,
    is_map: bool,
    at: impl Fn() -> String,
) -> Result<Open, GemError> {
    if depth >= MAX_DEPTH {
        return Err(GemError::TooDeep(MAX_DEPTH));
    }
    let class = class_of(tag.as_ref())?.ok_or_else(|| binary_misuse(at()))?;
    Ok(Open {
        anchor,
        class,
        items: Vec::new(),
        is_map,
        weight: 1,
    })
}

/// The node of a finished sequence or mapping.
fn close(open: Open) -> Node {
    let value = if open.is_map {
        let mut items = open.items.into_iter();
        let mut pairs = Vec::new();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            pairs.push((k, v));
        }
        Value::Map(pairs)
    } else {
        Value::Seq(open.items)
    };
    Node {
        class: open.class,
        value,
        weight: open.weight,
    }
}

/// A scalar node: `!binary` decoded, untagged plain nulls recognised.
fn scalar(text: String, style: TScalarStyle, tag: Option<Tag>) -> Result<Node, GemError> {
    let node = |value| Node {
        class: Class::Plain,
        value,
        weight: 1,
    };
    let Some(class) = class_of(tag.as_ref())? else {
        let compact: String = text.split_ascii_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| GemError::Yaml(format!("invalid !binary scalar: {e}")))?;
        return Ok(node(Value::Scalar(
            String::from_utf8_lossy(&bytes).into_owned(),
        )));
    };
    let is_null_tag = tag
        .as_ref()
        .is_some_and(|t| t.handle == CORE && t.suffix == "null");
    let plain_null = tag.is_none()
        && style == TScalarStyle::Plain
        && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
    Ok(Node {
        class,
        ..node(if is_null_tag || plain_null {
            Value::Null
        } else {
            Value::Scalar(text)
        })
    })
}

/// The prefix `!!` stands for.
const CORE: &str = "tag:yaml.org,2002:";

/// The class of an allowed tag; `None` for `!binary`; an error naming any other tag.
fn class_of(tag: Option<&Tag>) -> Result<Option<Class>, GemError> {
    let Some(tag) = tag else {
        return Ok(Some(Class::Plain));
    };
    let class = match (tag.handle.as_str(), tag.suffix.as_str()) {
        ("!", "ruby/object:Gem::Specification") => Some(Class::Specification),
        ("!", "ruby/object:Gem::Version") => Some(Class::Version),
        ("!", "ruby/object:Gem::Requirement") => Some(Class::Requirement),
        ("!", "ruby/object:Gem::Dependency") => Some(Class::Dependency),
        ("!", "ruby/object:Gem::Platform") => Some(Class::Platform),
        ("!", "binary") | (CORE, "binary") => None,
        (CORE, "str" | "int" | "float" | "bool" | "null" | "seq" | "map") => Some(Class::Plain),
        _ => return Err(GemError::ForbiddenTag(tag_text(tag))),
    };
    Ok(class)
}

/// A tag as it would be written in the document.
fn tag_text(tag: &Tag) -> String {
    match tag.handle.as_str() {
        "!" => format!("!{}", tag.suffix),
        CORE => format!("!!{}", tag.suffix),
        "" if tag.suffix == "!" => "!".to_owned(),
        handle => format!("!<{handle}{}>", tag.suffix),
    }
}

/// `!binary` on a sequence or mapping.
fn binary_misuse(at: String) -> GemError {
    GemError::Yaml(format!("!binary on a sequence or mapping at {at}"))
}
