//! `TypeSerializerSnapshot`s as Flink ≥ 1.8 writes them (docs/modern-formats.md §3), the
//! form in which Flink 1.17+ insists on finding every serializer of a keyed or operator
//! state header. A snapshot is a class name, a version and a body; composite serializers
//! (tuples, lists, maps, arrays) nest their elements' snapshots.

use super::{Utf, WriteError};

/// The class name prefix of Flink's basic serializers.
pub const BASE: &str = crate::classnames::TYPEUTILS_BASE;

/// `TypeSerializerSnapshotSerializationUtil`'s proxy version: what precedes a top-level
/// snapshot (nested ones go without it).
const SNAPSHOT_PROXY_VERSION: i32 = 2;
/// `CompositeTypeSerializerSnapshot`'s magic number and `NestedSerializersSnapshotDelegate`'s.
const COMPOSITE_MAGIC: i32 = 911_108;
const NESTED_MAGIC: i32 = 1_333_245;
const NESTED_VERSION: i32 = 1;

/// A serializer snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The snapshot class, e.g. `…LongSerializer$LongSerializerSnapshot`.
    pub class: String,
    pub version: i32,
    pub body: Body,
}

/// What follows a snapshot's class and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Singleton serializers: nothing.
    Empty,
    /// `CompositeTypeSerializerSnapshot`: outer version, outer snapshot, nested snapshots.
    Composite {
        outer_version: i32,
        /// The outer snapshot's fields, in order (e.g. the tuple class name).
        outer: Vec<String>,
        nested: Vec<Snapshot>,
    },
    /// `EnumSerializerSnapshot`: the enum class and its constants in ordinal order.
    Enum {
        enum_class: String,
        constants: Vec<String>,
    },
    /// `PojoSerializerSnapshot` without registered or cached subclasses: the class, then
    /// per field (in the serializer's order) its name, declaring class and snapshot.
    Pojo {
        class: String,
        fields: Vec<PojoField>,
    },
}

/// One field of a POJO snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PojoField {
    pub name: String,
    pub declaring_class: String,
    pub snapshot: Snapshot,
}

/// Field-less serializers under [`BASE`] (and `base.array.`) whose snapshot is their
/// nested class `<Name>$<Name>Snapshot`, version 3, without a body.
const SINGLETONS: &[&str] = &[
    "LongSerializer",
    "IntSerializer",
    "ShortSerializer",
    "ByteSerializer",
    "BooleanSerializer",
    "CharSerializer",
    "FloatSerializer",
    "DoubleSerializer",
    "StringSerializer",
    "VoidSerializer",
    "BigIntSerializer",
    "BigDecSerializer",
    "DateSerializer",
    "BooleanPrimitiveArraySerializer",
    "BytePrimitiveArraySerializer",
    "CharPrimitiveArraySerializer",
    "DoublePrimitiveArraySerializer",
    "FloatPrimitiveArraySerializer",
    "IntPrimitiveArraySerializer",
    "LongPrimitiveArraySerializer",
    "ShortPrimitiveArraySerializer",
    "StringArraySerializer",
];

pub const TIME_WINDOW_SERIALIZER: &str = crate::classnames::TIME_WINDOW_SERIALIZER;
pub const GLOBAL_WINDOW_SERIALIZER: &str = crate::classnames::GLOBAL_WINDOW_SERIALIZER;
/// Flink 1.2+'s namespace serializer for state without a namespace (1.1 used `VoidSerializer`).
pub const VOID_NAMESPACE_SERIALIZER: &str = crate::classnames::VOID_NAMESPACE_SERIALIZER;
/// The runtime `JavaSerializer`, the element serializer of `ListCheckpointed` state.
pub const JAVA_SERIALIZER: &str = crate::classnames::JAVA_SERIALIZER;
/// Composite snapshots (all version 3) and their outer versions.
pub const TUPLE_SNAPSHOT: (&str, i32) = (crate::classnames::TUPLE_SERIALIZER_SNAPSHOT, 2);
pub const TIMER_SNAPSHOT: (&str, i32) = (crate::classnames::TIMER_SERIALIZER_SNAPSHOT, 2);
pub const STREAM_ELEMENT_SNAPSHOT: (&str, i32) =
    (crate::classnames::STREAM_ELEMENT_SERIALIZER_SNAPSHOT, 2);
pub const ARRAY_LIST_SNAPSHOT: (&str, i32) = (crate::classnames::ARRAY_LIST_SERIALIZER_SNAPSHOT, 1);
pub const LIST_SNAPSHOT: (&str, i32) = (crate::classnames::LIST_SERIALIZER_SNAPSHOT, 1);
pub const MAP_SNAPSHOT: (&str, i32) = (crate::classnames::MAP_SERIALIZER_SNAPSHOT, 1);
pub const GENERIC_ARRAY_SNAPSHOT: (&str, i32) =
    (crate::classnames::GENERIC_ARRAY_SERIALIZER_SNAPSHOT, 1);
pub const ENUM_SNAPSHOT: &str = crate::classnames::ENUM_SERIALIZER_SNAPSHOT;
pub const POJO_SNAPSHOT: (&str, i32) = (crate::classnames::POJO_SERIALIZER_SNAPSHOT, 2);
/// `LinkedOptionalMapSerializer`'s header before each map of a POJO snapshot.
const OPTIONAL_MAP_HEADER: i64 = 0x4f2_c69a_3d70;

/// The version every singleton snapshot and the composites below have had since Flink 1.8.
pub const SIMPLE_VERSION: i32 = 3;

impl Snapshot {
    /// A singleton serializer's snapshot (no body), by its snapshot class.
    pub fn simple(class: &str) -> Snapshot {
        Snapshot {
            class: class.to_string(),
            version: SIMPLE_VERSION,
            body: Body::Empty,
        }
    }

    /// The snapshot of a field-less serializer of Flink's, by the serializer's class
    /// name; `None` for serializers that are not singletons or have no snapshot here.
    pub fn of_singleton(serializer_class: &str) -> Option<Snapshot> {
        let nested = |simple: &str| format!("{serializer_class}${simple}Snapshot");
        let class = if let Some(simple) = serializer_class.strip_prefix(BASE) {
            let simple = simple.strip_prefix("array.").unwrap_or(simple);
            SINGLETONS.contains(&simple).then(|| nested(simple))?
        } else {
            match serializer_class {
                TIME_WINDOW_SERIALIZER => nested("TimeWindowSerializer"),
                GLOBAL_WINDOW_SERIALIZER => nested("GlobalWindowSerializer"),
                VOID_NAMESPACE_SERIALIZER => nested("VoidNamespaceSerializer"),
                JAVA_SERIALIZER => nested("JavaSerializer"),
                _ => return None,
            }
        };
        Some(Snapshot::simple(&class))
    }

    /// A composite snapshot (version 3) around `nested`.
    pub fn composite(
        (class, outer_version): (&str, i32),
        outer: Vec<String>,
        nested: Vec<Snapshot>,
    ) -> Snapshot {
        Snapshot {
            class: class.to_string(),
            version: SIMPLE_VERSION,
            body: Body::Composite {
                outer_version,
                outer,
                nested,
            },
        }
    }

    /// The snapshot as `writeSerializerSnapshot` writes it at the top level of a header.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WriteError> {
        out.extend_from_slice(&SNAPSHOT_PROXY_VERSION.to_be_bytes());
        self.write_nested(out)
    }

    /// `writeVersionedSnapshot`: class, version, body.
    fn write_nested(&self, out: &mut Vec<u8>) -> Result<(), WriteError> {
        out.put_utf(&self.class)?;
        out.extend_from_slice(&self.version.to_be_bytes());
        match &self.body {
            Body::Empty => {}
            Body::Composite {
                outer_version,
                outer,
                nested,
            } => {
                out.extend_from_slice(&COMPOSITE_MAGIC.to_be_bytes());
                out.extend_from_slice(&outer_version.to_be_bytes());
                for s in outer {
                    out.put_utf(s)?;
                }
                out.extend_from_slice(&NESTED_MAGIC.to_be_bytes());
                out.extend_from_slice(&NESTED_VERSION.to_be_bytes());
                out.put_count(nested.len())?;
                for n in nested {
                    n.write_nested(out)?;
                }
            }
            Body::Enum {
                enum_class,
                constants,
            } => {
                out.put_utf(enum_class)?;
                out.put_count(constants.len())?;
                for c in constants {
                    out.put_utf(c)?;
                }
            }
            Body::Pojo { class, fields } => {
                out.put_utf(class)?;
                // The field map: name, then the field and its snapshot, each framed.
                out.extend_from_slice(&OPTIONAL_MAP_HEADER.to_be_bytes());
                out.put_count(fields.len())?;
                for f in fields {
                    out.put_utf(&f.name)?;
                    let mut field = Vec::new();
                    field.put_utf(&f.declaring_class)?;
                    field.put_utf(&f.name)?;
                    put_framed(out, &field)?;
                    let mut nested = Vec::new();
                    f.snapshot.write_nested(&mut nested)?;
                    put_framed(out, &nested)?;
                }
                // No registered subclasses, no cached non-registered ones.
                for _ in 0..2 {
                    out.extend_from_slice(&OPTIONAL_MAP_HEADER.to_be_bytes());
                    out.put_count(0)?;
                }
            }
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, WriteError> {
        let mut out = Vec::new();
        self.write(&mut out)?;
        Ok(out)
    }

    /// A short human name: `LongSerializer`, `TupleSerializer(LongSerializer)`.
    pub fn describe(&self) -> String {
        let short = |c: &str| {
            c.rsplit('.')
                .next()
                .unwrap_or(c)
                .split('$')
                .next()
                .unwrap_or(c)
                .trim_end_matches("Snapshot")
                .to_string()
        };
        match &self.body {
            Body::Composite { nested, .. } => {
                let inner: Vec<String> = nested.iter().map(Snapshot::describe).collect();
                format!("{}({})", short(&self.class), inner.join(", "))
            }
            _ => short(&self.class),
        }
    }
}

/// A present entry of an optional map: `true`, then the bytes with their length.
fn put_framed(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), WriteError> {
    out.push(1);
    out.put_count(bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singleton_names_follow_flinks_nested_classes() {
        let s = Snapshot::of_singleton(&format!("{BASE}LongSerializer")).unwrap();
        assert_eq!(
            s.class,
            "org.apache.flink.api.common.typeutils.base.LongSerializer$LongSerializerSnapshot"
        );
        let a = Snapshot::of_singleton(&format!("{BASE}array.IntPrimitiveArraySerializer"));
        assert_eq!(
            a.unwrap().class,
            "org.apache.flink.api.common.typeutils.base.array.IntPrimitiveArraySerializer$IntPrimitiveArraySerializerSnapshot"
        );
        let w = Snapshot::of_singleton(TIME_WINDOW_SERIALIZER).unwrap();
        assert_eq!(
            w.class,
            "org.apache.flink.streaming.api.windowing.windows.TimeWindow$Serializer$TimeWindowSerializerSnapshot"
        );
        assert_eq!(
            Snapshot::of_singleton(&format!("{BASE}EnumSerializer")),
            None
        );
        assert_eq!(Snapshot::of_singleton("com.example.MySerializer"), None);
    }

    #[test]
    fn composite_framing() {
        let long = Snapshot::simple("L");
        let t = Snapshot::composite(("T", 2), vec!["C".into()], vec![long.clone()]);
        let b = t.to_bytes().unwrap();
        let mut want = vec![0, 0, 0, 2, 0, 1, b'T', 0, 0, 0, 3];
        want.extend_from_slice(&911_108i32.to_be_bytes());
        want.extend_from_slice(&[0, 0, 0, 2, 0, 1, b'C']);
        want.extend_from_slice(&1_333_245i32.to_be_bytes());
        want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        let mut nested = long.to_bytes().unwrap();
        want.extend_from_slice(&nested.split_off(4));
        assert_eq!(b, want);
    }
}
