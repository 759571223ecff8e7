//! A small Marshal 4.8 reader for the tests: decodes what the codec writes into a tree and
//! checks it against RubyGems' `Gem::SafeMarshal` allow-list (classes, symbols, ivars), and
//! that no symbol or object link is used. Works without Ruby, so CI always checks it.

/// A decoded Marshal element.
#[derive(Debug, Clone, PartialEq)]
pub enum M {
    Nil,
    Bool(bool),
    Int(i64),
    /// A string and whether it carries `:E true` (UTF-8).
    Str(String, bool),
    Sym(String),
    Array(Vec<M>),
    Hash(Vec<(M, M)>),
    /// `U`: class and the `marshal_dump` value.
    User(String, Box<M>),
    /// `o`: class and ivars.
    Object(String, Vec<(String, M)>),
    /// `u`: class and the `_dump` bytes decoded as a nested stream.
    Dumped(String, Box<M>),
}

const CLASSES: [&str; 5] = [
    "Gem::Specification",
    "Gem::Version",
    "Gem::Requirement",
    "Gem::Dependency",
    "Gem::Platform",
];
const SYMBOLS: [&str; 7] = [
    "E",
    "development",
    "runtime",
    "name",
    "number",
    "platform",
    "dependencies",
];
const DEPENDENCY_IVARS: [&str; 7] = [
    "@name",
    "@requirement",
    "@prerelease",
    "@version_requirement",
    "@version_requirements",
    "@type",
    "@force_ruby_platform",
];

/// Decodes a whole stream (header included), panicking on anything outside the allow-list.
pub fn load(bytes: &[u8]) -> M {
    let mut r = Reader { bytes, pos: 0 };
    assert_eq!(r.take(2), [4, 8], "Marshal header");
    let m = r.element();
    assert_eq!(r.pos, bytes.len(), "trailing bytes");
    m
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    fn byte(&mut self) -> u8 {
        self.take(1)[0]
    }

    fn int(&mut self) -> i64 {
        let b = self.byte() as i8;
        match b {
            0 => 0,
            1..=4 => (0..b).fold(0, |acc, i| acc | (i64::from(self.byte()) << (8 * i))),
            -4..=-1 => {
                let n = -b;
                let v = (0..n).fold(0, |acc, i| acc | (i64::from(self.byte()) << (8 * i)));
                v - (1i64 << (8 * n))
            }
            5..=127 => i64::from(b) - 5,
            _ => i64::from(b) + 5,
        }
    }

    fn bytes_with_len(&mut self) -> Vec<u8> {
        let n = usize::try_from(self.int()).unwrap();
        self.take(n).to_vec()
    }

    fn symbol(&mut self) -> String {
        match self.byte() {
            b':' => String::from_utf8(self.bytes_with_len()).unwrap(),
            b';' => panic!("symbol link written"),
            t => panic!("expected a symbol, got {:?}", t as char),
        }
    }

    fn element(&mut self) -> M {
        match self.byte() {
            b'0' => M::Nil,
            b'T' => M::Bool(true),
            b'F' => M::Bool(false),
            b'i' => M::Int(self.int()),
            b'"' => M::Str(String::from_utf8(self.bytes_with_len()).unwrap(), false),
            b':' => {
                self.pos -= 1;
                let s = self.symbol();
                assert!(SYMBOLS.contains(&s.as_str()), "unpermitted symbol :{s}");
                M::Sym(s)
            }
            b'I' => {
                let M::Str(s, _) = self.element() else {
                    panic!("ivars only on strings here")
                };
                assert_eq!(self.int(), 1, "one ivar on a string");
                assert_eq!(self.symbol(), "E");
                assert_eq!(self.byte(), b'T', "UTF-8 strings only");
                M::Str(s, true)
            }
            b'[' => M::Array((0..self.int()).map(|_| self.element()).collect()),
            b'{' => M::Hash(
                (0..self.int())
                    .map(|_| {
                        let k = self.element();
                        assert!(matches!(k, M::Str(..)), "hash keys must be strings");
                        (k, self.element())
                    })
                    .collect(),
            ),
            b'U' => {
                let class = self.class();
                M::User(class, Box::new(self.element()))
            }
            b'o' => {
                let class = self.class();
                let ivars = (0..self.int())
                    .map(|_| {
                        let ivar = self.symbol();
                        assert!(
                            class == "Gem::Dependency" && DEPENDENCY_IVARS.contains(&ivar.as_str()),
                            "unpermitted ivar {ivar} on {class}"
                        );
                        (ivar, self.element())
                    })
                    .collect();
                M::Object(class, ivars)
            }
            b'u' => {
                let class = self.class();
                let inner = self.bytes_with_len();
                M::Dumped(class, Box::new(load(&inner)))
            }
            b'@' => panic!("object link written"),
            t => panic!("unexpected type byte {:?}", t as char),
        }
    }

    fn class(&mut self) -> String {
        let class = self.symbol();
        assert!(
            CLASSES.contains(&class.as_str()),
            "unpermitted class {class}"
        );
        class
    }
}

/// A UTF-8 string element.
pub fn s(text: &str) -> M {
    M::Str(text.into(), true)
}

/// A `Gem::Version` element.
pub fn version(v: &str) -> M {
    M::User("Gem::Version".into(), Box::new(M::Array(vec![s(v)])))
}

/// A `Gem::Requirement` element.
pub fn requirement(pairs: &[(&str, &str)]) -> M {
    let list = pairs
        .iter()
        .map(|(op, v)| M::Array(vec![s(op), version(v)]))
        .collect();
    M::User(
        "Gem::Requirement".into(),
        Box::new(M::Array(vec![M::Array(list)])),
    )
}
