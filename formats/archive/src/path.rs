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

#[cfg(test)]
mod tests {
    use super::{PathRule, components, is_absolute};

    #[test]
    fn slash_paths_are_split_and_checked() {
        let slash = |p| components(p, PathRule::Slash);
        assert_eq!(
            slash("package/lib/a.js"),
            Some(vec!["package", "lib", "a.js"])
        );
        assert_eq!(slash("./package//a.js"), Some(vec!["package", "a.js"]));
        assert_eq!(slash("package/"), Some(vec!["package"]));
        assert_eq!(
            slash("demo-1.0.0/src/lib.rs"),
            Some(vec!["demo-1.0.0", "src", "lib.rs"])
        );
        assert_eq!(
            slash("./demo-1.0.0//a.rs"),
            Some(vec!["demo-1.0.0", "a.rs"])
        );
        assert_eq!(slash("lib\\a.js"), Some(vec!["lib\\a.js"]));
        assert_eq!(slash(""), Some(vec![]));
        for bad in [
            "/etc/passwd",
            "package/../x",
            "demo/../x",
            "..",
            "package/a\\..\\b",
            "demo/a\\..\\b",
            "C:/x",
            "\\x",
        ] {
            assert_eq!(slash(bad), None, "{bad}");
        }
    }

    #[test]
    fn backslash_paths_are_split_and_checked() {
        let both = |p| components(p, PathRule::SlashOrBackslash);
        assert_eq!(both("lib/a.rb"), Some(vec!["lib", "a.rb"]));
        assert_eq!(both("./lib//a.rb"), Some(vec!["lib", "a.rb"]));
        assert_eq!(both("lib\\a.rb"), Some(vec!["lib", "a.rb"]));
        for bad in [
            "/etc/passwd",
            "lib/../../x",
            "..",
            "a\\..\\b",
            "C:/x",
            "\\x",
            "",
        ] {
            assert_eq!(both(bad), None, "{bad}");
        }
    }

    #[test]
    fn flat_names_are_single_plain_components() {
        let flat = |p| components(p, PathRule::Flat);
        assert_eq!(flat("metadata.gz"), Some(vec!["metadata.gz"]));
        assert_eq!(flat("metadata.gz.sig"), Some(vec!["metadata.gz.sig"]));
        for bad in ["", ".", "..", "x/metadata.gz", "/x", "a\\b", "a\0b"] {
            assert_eq!(flat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn absolute_paths_are_recognized() {
        for abs in ["/x", "\\x", "C:", "c:\\x", "z:/"] {
            assert!(is_absolute(abs), "{abs}");
        }
        for rel in ["", "x", "./x", "1:/x", "x/C:"] {
            assert!(!is_absolute(rel), "{rel}");
        }
    }
}
