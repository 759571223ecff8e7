//! Rendered-document cache: keyed by (repository, package, variant) and validated against the
//! package's change stamp from the database, so that several instances never serve stale data;
//! and a cache of parsed values validated the same way against any stamp.

use bytes::Bytes;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A cached rendering with its ETag.
#[derive(Clone)]
pub struct Rendered {
    /// The body.
    pub body: Bytes,
    /// The strong ETag, quoted.
    pub etag: String,
    /// A representation digest header value, where the format sends one (RubyGems'
    /// `Repr-Digest`); empty otherwise.
    pub digest: String,
}

/// A bounded in-memory map of rendered documents.
pub struct DocCache {
    entries: Mutex<HashMap<String, (i64, Rendered)>>,
    capacity: usize,
}

impl DocCache {
    /// A cache holding at most `capacity` documents.
    pub fn new(capacity: usize) -> Self {
        DocCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The document for `key` if it was rendered at `stamp`.
    pub fn get(&self, key: &str, stamp: i64) -> Option<Rendered> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, r)| r.clone())
    }

    /// Stores a rendering; when full, drops everything (cheap, and renders are O(versions)).
    pub fn put(&self, key: String, stamp: i64, r: Rendered) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, (stamp, r));
    }
}

/// A shared value of any type.
type AnyValue = Arc<dyn Any + Send + Sync>;

/// Parsed values (not bytes) kept between requests, each valid for one stamp: for example a
/// repository's search catalog, valid while the repository's stamp is unchanged.
pub struct ValueCache {
    entries: Mutex<HashMap<String, (String, AnyValue)>>,
    capacity: usize,
}

impl ValueCache {
    /// A cache holding at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        ValueCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value for `key` if it was stored at `stamp` with type `T`.
    pub fn get<T: Any + Send + Sync>(&self, key: &str, stamp: &str) -> Option<Arc<T>> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (s, v) = map.get(key)?;
        if s != stamp {
            return None;
        }
        v.clone().downcast::<T>().ok()
    }

    /// Stores a value; when full, drops everything.
    pub fn put<T: Any + Send + Sync>(&self, key: String, stamp: String, value: Arc<T>) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, (stamp, value));
    }
}
