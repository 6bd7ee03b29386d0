//! The key serializer of a native keyed stream. A Flink 1.1 heap snapshot carries its
//! own (re-emitted as is); a RocksDB snapshot does not, so the user names it
//! (native-formats.md §7.3.5) — never guessed.

use crate::javaser::builder::{ClassSpec, StreamBuilder};
use crate::javaser::{self, Limits};
use crate::source::MemSource;
use crate::v0::classes::{
    INT_SERIALIZER, LONG_SERIALIZER, STRING_SERIALIZER, TUPLE_SERIALIZER, TUPLE1, TUPLE2,
    TYPE_SERIALIZER_ARRAY,
};
use std::path::PathBuf;
use std::sync::Arc;

/// The choices `--key-serializer` accepts.
pub const CHOICES: &str =
    "long, int, string, tuple1-B, tuple2-B-B (B one of long, int, string), java:FILE";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySerializer {
    /// A serializer singleton (`LongSerializer`, ...).
    Basic(BasicKey),
    /// `TupleSerializer(Tuple1, [basic])` (the key of `keyBy(0)` on a `Tuple1`/`Tuple2`)
    /// or `TupleSerializer(Tuple2, [basic, basic])` (e.g. a window's `Tuple2<String, Integer>`).
    Tuple(Vec<BasicKey>),
    /// A Java-serialized `TypeSerializer` from a file.
    Java(PathBuf),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BasicKey {
    Long,
    Int,
    String,
}

impl BasicKey {
    fn spec(self) -> &'static ClassSpec {
        match self {
            BasicKey::Long => &LONG_SERIALIZER,
            BasicKey::Int => &INT_SERIALIZER,
            BasicKey::String => &STRING_SERIALIZER,
        }
    }

    fn parse(s: &str) -> Option<BasicKey> {
        match s {
            "long" => Some(BasicKey::Long),
            "int" => Some(BasicKey::Int),
            "string" => Some(BasicKey::String),
            _ => None,
        }
    }
}

impl KeySerializer {
    pub fn parse(s: &str) -> Result<KeySerializer, String> {
        if let Some(file) = s.strip_prefix("java:") {
            return Ok(KeySerializer::Java(PathBuf::from(file)));
        }
        if let Some(b) = BasicKey::parse(s) {
            return Ok(KeySerializer::Basic(b));
        }
        if let Some(b) = s.strip_prefix("tuple1-").and_then(BasicKey::parse) {
            return Ok(KeySerializer::Tuple(vec![b]));
        }
        if let Some((a, b)) = s.strip_prefix("tuple2-").and_then(|r| r.split_once('-'))
            && let (Some(a), Some(b)) = (BasicKey::parse(a), BasicKey::parse(b))
        {
            return Ok(KeySerializer::Tuple(vec![a, b]));
        }
        Err(format!(
            "unknown key serializer {s:?}: choose one of {CHOICES}"
        ))
    }

    /// The serializer as a standalone Java stream.
    pub fn stream(&self) -> Result<Arc<[u8]>, String> {
        if let KeySerializer::Java(path) = self {
            return java_stream(path);
        }
        let mut b =
            StreamBuilder::new(Vec::new(), "key serializer", 0).map_err(|e| e.to_string())?;
        self.write(&mut b)?;
        Ok(b.finish().map_err(|e| e.to_string())?.into())
    }

    /// The serializer as the next object of a stream being built (so its class
    /// descriptors are shared with what came before, as Java writes them); a `java:FILE`
    /// serializer is only a standalone stream.
    pub fn write<W: std::io::Write>(&self, b: &mut StreamBuilder<W>) -> Result<u32, String> {
        let built = match self {
            KeySerializer::Basic(k) => b.begin_object(k.spec()),
            KeySerializer::Tuple(fields) => (|| {
                // TupleSerializerBase fields: arity, length (-2: variable, as Flink 1.1 caches it),
                // fieldSerializers, tupleClass.
                let h = b.begin_object(&TUPLE_SERIALIZER)?;
                b.field_int(fields.len() as i32)?;
                b.field_int(-2)?;
                b.begin_object_array(&TYPE_SERIALIZER_ARRAY, fields.len() as i32)?;
                for k in fields {
                    b.begin_object(k.spec())?;
                }
                b.class_object(if fields.len() == 1 { &TUPLE1 } else { &TUPLE2 })?;
                Ok(h)
            })(),
            KeySerializer::Java(path) => {
                return Err(format!(
                    "{}: a serializer from a file is written as its own stream",
                    path.display()
                ));
            }
        };
        built.map_err(|e| e.to_string())
    }
}

/// A Java-serialized serializer from a file: exactly one object.
fn java_stream(path: &std::path::Path) -> Result<Arc<[u8]>, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("key serializer file {}: {e}", path.display()))?;
    let len = bytes.len() as u64;
    let src = Arc::new(MemSource::new(path.display().to_string(), bytes.clone()));
    let g = javaser::parse_stream(src, 0, len, &Limits::default()).map_err(|e| e.to_string())?;
    if g.roots().count() != 1 {
        return Err(format!(
            "key serializer file {}: expected one Java object",
            path.display()
        ));
    }
    Ok(bytes.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_build_streams() {
        for s in [
            "long",
            "int",
            "string",
            "tuple1-long",
            "tuple1-int",
            "tuple1-string",
            "tuple2-string-int",
            "tuple2-long-long",
        ] {
            let k = KeySerializer::parse(s).unwrap();
            let bytes = k.stream().unwrap();
            let g = javaser::parse_stream(
                Arc::new(MemSource::new(s, bytes.to_vec())),
                0,
                bytes.len() as u64,
                &Limits::default(),
            )
            .unwrap();
            let root = g.object(g.roots().next().unwrap()).unwrap().unwrap();
            assert!(
                root.is_a("org.apache.flink.api.common.typeutils.TypeSerializer"),
                "{s}"
            );
        }
        // native-formats.md A.1: TupleSerializer(Tuple1, [LongSerializer]) is 728 bytes.
        assert_eq!(
            KeySerializer::parse("tuple1-long")
                .unwrap()
                .stream()
                .unwrap()
                .len(),
            728
        );
        assert!(KeySerializer::parse("tuple2-string").is_err());
        assert!(KeySerializer::parse("tuple2-string-float").is_err());
        let err = KeySerializer::parse("float").unwrap_err();
        assert!(
            err.contains("tuple2-B-B") && err.contains("java:FILE"),
            "{err}"
        );
    }
}
