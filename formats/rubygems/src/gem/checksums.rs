//! `checksums.yaml.gz`: the digests RubyGems records for `metadata.gz` and `data.tar.gz`,
//! checked against the ones computed while the `.gem` streamed by.
//!
//! Layout (written by `gem build`, RubyGems 2.x added `SHA1`, 3.x writes `SHA256` and
//! `SHA512`):
//! ```yaml
//! ---
//! SHA256:
//!   metadata.gz: 799d...
//!   data.tar.gz: cf38...
//! SHA512:
//!   ...
//! ```
//! Part of the RubyGems protocol reference §5.1 step 1. See `docs/formats/rubygems.md`.

use super::GemError;
use super::digest::FileDigests;
use super::yaml::{self, Value};

/// Checks every digest `text` lists for the given members; unknown algorithms and other file
/// names are ignored. Hex digits compare case-insensitively.
pub(super) fn verify(text: &str, files: &[(&'static str, &FileDigests)]) -> Result<(), GemError> {
    let bad = |why: &str| GemError::BadChecksums(why.to_owned());
    let root = yaml::parse(text).map_err(|e| bad(&e.to_string()))?;
    let Value::Map(algorithms) = &root.value else {
        return Err(bad("expected a mapping of algorithms"));
    };
    for (algorithm, listed) in algorithms {
        let Value::Scalar(algorithm) = &algorithm.value else {
            return Err(bad("algorithm names must be strings"));
        };
        let Value::Map(_) = &listed.value else {
            return Err(bad(&format!("{algorithm} must map file names to digests")));
        };
        for (file, digests) in files {
            let Some(computed) = digests.get(algorithm) else {
                continue;
            };
            let Some(expected) = listed.get(file) else {
                continue;
            };
            let Value::Scalar(expected) = &expected.value else {
                return Err(bad(&format!("{algorithm} of {file} must be a string")));
            };
            if !expected.trim().eq_ignore_ascii_case(computed) {
                return Err(GemError::ChecksumMismatch {
                    file,
                    algorithm: algorithm.clone(),
                });
            }
        }
    }
    Ok(())
}
