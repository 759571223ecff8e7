//! Entry-path safety: no absolute paths, no `..`, and how a path splits into components.

/// How an archive's entry paths are checked and split. Every rule refuses absolute paths (also
/// a Windows drive or a leading `\`) and `..` components, also between backslashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRule {
    /// Components are separated by `/`; a `\` stays inside a component. An empty path has no
    /// components. (npm tarballs, `.crate` files.)
    Slash,
    /// `/` and `\` both separate components; an empty path is refused. (A gem's
    /// `data.tar.gz`, which RubyGems also unpacks on Windows.)
    SlashOrBackslash,
    /// One plain name: not empty, `.` or `..`, and without `/`, `\` or NUL. (The members of a
    /// `.gem`.)
    Flat,
}

/// Whether `path` is absolute: a leading `/` or `\`, or a Windows drive (`C:`).
pub fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic();
    path.starts_with(['/', '\\']) || drive
}

/// The path's components without empty and `.` parts, or `None` if `rule` refuses the path.
pub fn components(path: &str, rule: PathRule) -> Option<Vec<&str>> {
    let separators: &[char] = match rule {
        PathRule::Flat => {
            let unsafe_name =
                path.is_empty() || path == "." || path == ".." || path.contains(['/', '\\', '\0']);
            return (!unsafe_name).then(|| vec![path]);
        }
        PathRule::Slash => &['/'],
        PathRule::SlashOrBackslash if path.is_empty() => return None,
        PathRule::SlashOrBackslash => &['/', '\\'],
    };
    if is_absolute(path) {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split(separators) {
        if part.split('\\').any(|p| p == "..") {
            return None;
        }
        if !part.is_empty() && part != "." {
            parts.push(part);
        }
    }
    Some(parts)
}
