//! The key serializer of a native keyed stream. A Flink 1.1 heap snapshot carries its
//! own (re-emitted as is); a RocksDB snapshot does not, so the user names it
//! (native-formats.md §7.3.5) — never guessed.

use crate::javaser::builder::{BuildResult, ClassSpec, StreamBuilder};
use crate::javaser::{self, Limits};
use crate::source::MemSource;
use crate::v0::classes::{
    INT_SERIALIZER, LONG_SERIALIZER, STRING_SERIALIZER, TUPLE_SERIALIZER, TUPLE1,
    TYPE_SERIALIZER_ARRAY,
};
use std::path::PathBuf;
use std::sync::Arc;

/// The choices `--key-serializer` accepts.
pub const CHOICES: &str = "long, int, string, tuple1-long, tuple1-int, tuple1-string, java:FILE";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySerializer {
    /// A serializer singleton (`LongSerializer`, ...).
    Basic(BasicKey),
    /// `TupleSerializer(Tuple1, [basic])`: the key of `keyBy(0)` on a `Tuple1`/`Tuple2`.
    Tuple1(BasicKey),
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
            return Ok(KeySerializer::Tuple1(b));
        }
        Err(format!(
            "unknown key serializer {s:?}: choose one of {CHOICES}"
        ))
    }

    /// The serializer as a standalone Java stream.
    pub fn stream(&self) -> Result<Arc<[u8]>, String> {
        let built = |f: &dyn Fn(&mut StreamBuilder<Vec<u8>>) -> BuildResult<u32>| -> Result<Arc<[u8]>, String> {
            let mut b = StreamBuilder::new(Vec::new(), "key serializer", 0).map_err(|e| e.to_string())?;
            f(&mut b).map_err(|e| e.to_string())?;
            Ok(b.finish().map_err(|e| e.to_string())?.into())
        };
        match self {
            KeySerializer::Basic(k) => built(&|b| b.begin_object(k.spec())),
            KeySerializer::Tuple1(k) => built(&|b| {
                // TupleSerializerBase fields: arity, length (-2: variable, as Flink 1.1 caches it),
                // fieldSerializers, tupleClass.
                let h = b.begin_object(&TUPLE_SERIALIZER)?;
                b.field_int(1)?;
                b.field_int(-2)?;
                b.begin_object_array(&TYPE_SERIALIZER_ARRAY, 1)?;
                b.begin_object(k.spec())?;
                b.class_object(&TUPLE1)?;
                Ok(h)
            }),
            KeySerializer::Java(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("key serializer file {}: {e}", path.display()))?;
                let len = bytes.len() as u64;
                let src = Arc::new(MemSource::new(path.display().to_string(), bytes.clone()));
                let g = javaser::parse_stream(src, 0, len, &Limits::default())
                    .map_err(|e| e.to_string())?;
                if g.roots().count() != 1 {
                    return Err(format!(
                        "key serializer file {}: expected one Java object",
                        path.display()
                    ));
                }
                Ok(bytes.into())
            }
        }
    }
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
        let err = KeySerializer::parse("float").unwrap_err();
        assert!(
            err.contains("tuple1-long") && err.contains("java:FILE"),
            "{err}"
        );
    }
}
