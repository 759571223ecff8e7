//! A Ruby Marshal 4.8 writer for the handful of types the legacy index needs.
//!
//! Every symbol is written in full (`:`), never as a symbol link (`;`), and no object link
//! (`@`) is ever written: both are optional size optimisations (protocol §7.1), and leaving them
//! out keeps every element independent.

/// Builds one Marshal stream.
pub(crate) struct Writer {
    /// The bytes written so far.
    out: Vec<u8>,
}

impl Writer {
    /// A stream with its `04 08` header.
    pub(crate) fn new() -> Self {
        Self {
            out: vec![0x04, 0x08],
        }
    }

    /// The finished bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.out
    }

    /// A packed integer (protocol §7.1): `00`; `n+5` for 1..=122; `n-5` for -123..=-1; else a
    /// length byte (`01`..`04`, negative `ff`..`fc`) and that many little-endian bytes.
    pub(crate) fn packed(&mut self, n: i32) {
        match n {
            0 => self.out.push(0),
            1..=122 => self.out.push((n + 5) as u8),
            -123..=-1 => self.out.push(((n - 5) & 0xff) as u8),
            _ => {
                // Ruby's w_long: low bytes until the rest is 0 (or -1 for negatives).
                let mut rest = i64::from(n);
                let mut bytes = Vec::with_capacity(4);
                loop {
                    bytes.push((rest & 0xff) as u8);
                    rest >>= 8;
                    if rest == 0 || rest == -1 {
                        break;
                    }
                }
                let len = bytes.len() as u8;
                self.out
                    .push(if rest == 0 { len } else { len.wrapping_neg() });
                self.out.extend_from_slice(&bytes);
            }
        }
    }

    /// A length or count: lengths beyond `i32::MAX` cannot occur here (inputs are bounded far
    /// below) and are clamped.
    fn len(&mut self, n: usize) {
        self.packed(i32::try_from(n).unwrap_or(i32::MAX));
    }

    /// `nil`.
    pub(crate) fn nil(&mut self) {
        self.out.push(b'0');
    }

    /// `true` or `false`.
    pub(crate) fn bool(&mut self, b: bool) {
        self.out.push(if b { b'T' } else { b'F' });
    }

    /// A Fixnum (`i`).
    pub(crate) fn int(&mut self, n: i32) {
        self.out.push(b'i');
        self.packed(n);
    }

    /// A symbol, always in full.
    pub(crate) fn symbol(&mut self, name: &str) {
        self.out.push(b':');
        self.len(name.len());
        self.out.extend_from_slice(name.as_bytes());
    }

    /// A UTF-8 string: `I "` len bytes, one ivar `:E` = `true`.
    pub(crate) fn string(&mut self, s: &str) {
        self.out.extend_from_slice(b"I\"");
        self.len(s.len());
        self.out.extend_from_slice(s.as_bytes());
        self.packed(1);
        self.symbol("E");
        self.bool(true);
    }

    /// An array header; the caller writes `count` elements next.
    pub(crate) fn array(&mut self, count: usize) {
        self.out.push(b'[');
        self.len(count);
    }

    /// A hash header; the caller writes `count` key, value pairs next.
    pub(crate) fn hash(&mut self, count: usize) {
        self.out.push(b'{');
        self.len(count);
    }

    /// `U :class`; the caller writes the `marshal_dump` value next.
    pub(crate) fn user_marshal(&mut self, class: &str) {
        self.out.push(b'U');
        self.symbol(class);
    }

    /// `o :class count`; the caller writes `count` (ivar symbol, value) pairs next.
    pub(crate) fn object(&mut self, class: &str, ivars: usize) {
        self.out.push(b'o');
        self.symbol(class);
        self.len(ivars);
    }

    /// `u :class len bytes`: an object with `_dump`, its dump as raw bytes.
    pub(crate) fn user_defined(&mut self, class: &str, bytes: &[u8]) {
        self.out.push(b'u');
        self.symbol(class);
        self.len(bytes.len());
        self.out.extend_from_slice(bytes);
    }

    /// `Gem::Version`: `U :Gem::Version ["version"]`.
    pub(crate) fn version(&mut self, v: &str) {
        self.user_marshal("Gem::Version");
        self.array(1);
        self.string(v);
    }

    /// `Gem::Requirement`: `U :Gem::Requirement [[[op, Gem::Version], ...]]`; no pairs means
    /// `>= 0`.
    pub(crate) fn requirement(&mut self, pairs: &[(String, String)]) {
        self.user_marshal("Gem::Requirement");
        self.array(1);
        if pairs.is_empty() {
            self.array(1);
            self.array(2);
            self.string(">=");
            self.version("0");
            return;
        }
        self.array(pairs.len());
        for (op, v) in pairs {
            self.array(2);
            self.string(op);
            self.version(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Writer;

    fn packed(n: i32) -> Vec<u8> {
        let mut w = Writer::new();
        w.packed(n);
        w.finish()[2..].to_vec()
    }

    #[test]
    fn packed_integers_match_ruby() {
        assert_eq!(packed(0), [0x00]);
        assert_eq!(packed(2), [0x07]);
        assert_eq!(packed(19), [0x18]);
        assert_eq!(packed(122), [0x7f]);
        assert_eq!(packed(123), [0x01, 0x7b]);
        assert_eq!(packed(128), [0x01, 0x80]);
        assert_eq!(packed(-129), [0xff, 0x7f]);
        assert_eq!(packed(200), [0x01, 0xc8]);
        assert_eq!(packed(256), [0x02, 0x00, 0x01]);
        assert_eq!(packed(562), [0x02, 0x32, 0x02]);
        assert_eq!(packed(-1), [0xfa]);
        assert_eq!(packed(-123), [0x80]);
        assert_eq!(packed(-124), [0xff, 0x84]);
        assert_eq!(packed(-256), [0xff, 0x00]);
        assert_eq!(packed(-257), [0xfe, 0xff, 0xfe]);
        assert_eq!(packed(i32::MAX), [0x04, 0xff, 0xff, 0xff, 0x7f]);
    }
}
