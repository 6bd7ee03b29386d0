//! Class renaming for re-emitting Flink 1.1 objects the way Flink 1.2.0 re-serializes
//! them (legacy-formats.md §3.2, §3.8): the table, given to the generic Java writer as a
//! [`Renamer`].
//!
//! Flink 1.2.0 reads a 1.1 blob with a stream that, for a class name `org.apache.flink.X`
//! (or an array name `[Lorg.apache.flink.X;`), first tries `org.apache.flink.migration.X`
//! and uses it when that class exists. When it writes the objects again (the keyed-state
//! HashMap, §3.7) they therefore carry the migration names, and the JVM writes its own
//! field signatures, so field-type strings naming migration types are renamed as well.
//! Everything else (serializers, descriptors, tuples, `Path`, user classes, JDK classes)
//! keeps its name.
//!
//! Names are compared as the modified-UTF-8 bytes of the stream; the table is ASCII.

use crate::javaser::{Renamer, WriteOptions};

/// Every type that exists under `org.apache.flink.migration.` in Flink 1.2.0 and takes
/// over a 1.1 name, by its 1.1 name (insert `migration.` after `org.apache.flink.` to
/// get the 1.2 one; the UIDs are equal).
///
/// Classes: the table of legacy-formats.md §3.2. Interfaces: `StateHandle` and
/// `StreamStateHandle`, the two migration types §3.8 shows in re-written field
/// signatures; interfaces are never class descriptors in these streams, but a JVM
/// resolving the 1.1 name would resolve them the same way.
///
/// `RocksDBStateBackend$FinalSemiAsyncSnapshot` is in the list on purpose: Flink 1.2.0
/// does resolve the 1.1 name to the migration class, which is not Serializable, and the
/// load then fails (§3.9). The writer renames it like Flink; refusing semi-async RocksDB
/// state is the conversion layer's job, where the error can say why.
pub const MIGRATION_TYPES: &[&str] = &[
    crate::classnames::STREAM_TASK_STATE_LIST,
    crate::classnames::STREAM_TASK_STATE,
    crate::classnames::ABSTRACT_CLOSEABLE_HANDLE,
    crate::classnames::ABSTRACT_STATE_BACKEND,
    crate::classnames::ABSTRACT_STATE_BACKEND_DATA_INPUT_VIEW_HANDLE,
    crate::classnames::SERIALIZED_STATE_HANDLE,
    crate::classnames::BYTE_STREAM_STATE_HANDLE,
    crate::classnames::ABSTRACT_MEM_STATE_SNAPSHOT,
    crate::classnames::MEM_VALUE_STATE_SNAPSHOT,
    crate::classnames::MEM_LIST_STATE_SNAPSHOT,
    crate::classnames::MEM_REDUCING_STATE_SNAPSHOT,
    crate::classnames::MEM_FOLDING_STATE_SNAPSHOT,
    crate::classnames::ABSTRACT_FILE_STATE_HANDLE,
    crate::classnames::FILE_STREAM_STATE_HANDLE,
    crate::classnames::FILE_SERIALIZABLE_STATE_HANDLE,
    crate::classnames::ABSTRACT_FS_STATE_SNAPSHOT,
    crate::classnames::FS_VALUE_STATE_SNAPSHOT,
    crate::classnames::FS_LIST_STATE_SNAPSHOT,
    crate::classnames::FS_REDUCING_STATE_SNAPSHOT,
    crate::classnames::FS_FOLDING_STATE_SNAPSHOT,
    crate::classnames::FS_STATE_BACKEND,
    crate::classnames::ROCKSDB_STATE_BACKEND,
    crate::classnames::ROCKSDB_STATE_BACKEND_FINAL_FULLY_ASYNC_SNAPSHOT,
    crate::classnames::ROCKSDB_STATE_BACKEND_FINAL_SEMI_ASYNC_SNAPSHOT,
    // Exist under `migration` in 1.2.0 but never occur inside blobs (§3.2); a user object
    // holding one would still be resolved to the migration class.
    crate::classnames::TASK_STATE,
    crate::classnames::SUBTASK_STATE,
    crate::classnames::KEY_GROUP_STATE,
    crate::classnames::SERIALIZED_VALUE,
    // Interfaces seen in 1.2 field signatures (§3.8).
    crate::classnames::STATE_HANDLE,
    crate::classnames::STREAM_STATE_HANDLE,
];

/// Flink 1.2.0's migration names for class descriptors and for the field-type strings
/// that name those types.
#[derive(Debug)]
pub struct Migration;

impl Renamer for Migration {
    fn class_name(&self, name: &[u8]) -> Option<Vec<u8>> {
        class_name(name)
    }
    fn type_string(&self, signature: &[u8]) -> Option<Vec<u8>> {
        type_string(signature)
    }
}

/// Writer options that rename like Flink 1.2.0.
pub fn migration_options() -> WriteOptions {
    WriteOptions {
        renamer: Some(&Migration),
        ..WriteOptions::default()
    }
}

/// The classes Flink 1.1 serializers name that a native target (Flink 1.2+ reading its own
/// form) knows under another name with the same UID and fields: an evicting window's
/// `StreamRecordSerializer`, which Flink 1.2+ replaced by `StreamElementSerializer` (the
/// elements are re-framed to match, convert/heap_reframe.rs).
#[derive(Debug)]
pub struct Native;

impl Renamer for Native {
    fn class_name(&self, name: &[u8]) -> Option<Vec<u8>> {
        (name == crate::classnames::STREAM_RECORD_SERIALIZER.as_bytes()).then(|| {
            crate::classnames::STREAM_ELEMENT_SERIALIZER
                .as_bytes()
                .to_vec()
        })
    }
    fn type_string(&self, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// Writer options that rename for the native targets.
pub fn native_options() -> WriteOptions {
    WriteOptions {
        renamer: Some(&Native),
        ..WriteOptions::default()
    }
}

const FLINK_DOTTED: &[u8] = b"org.apache.flink.";
const MIGRATION_DOTTED: &[u8] = b"org.apache.flink.migration.";
const FLINK_SLASHED: &[u8] = b"org/apache/flink/";
const MIGRATION_SLASHED: &[u8] = b"org/apache/flink/migration/";

fn is_migration_type(relative_dotted: &[u8]) -> bool {
    MIGRATION_TYPES
        .iter()
        .any(|t| t.as_bytes().strip_prefix(FLINK_DOTTED) == Some(relative_dotted))
}

/// The migration name of a class-descriptor name, or `None` when it keeps its name.
///
/// Handles plain names and array names of any dimension (`[Lorg.apache.flink.X;`,
/// `[[Lorg.apache.flink.X;`). Flink 1.2.0's stream only tries the one-dimensional array
/// form, so it could not load a nested array of a migration class at all; renaming it
/// anyway is what a JVM holding the migration classes writes.
pub fn class_name(name: &[u8]) -> Option<Vec<u8>> {
    let dims = name.iter().take_while(|&&b| b == b'[').count();
    if dims == 0 {
        let rest = name.strip_prefix(FLINK_DOTTED)?;
        return is_migration_type(rest).then(|| [MIGRATION_DOTTED, rest].concat());
    }
    let element = name[dims..].strip_prefix(b"L")?.strip_suffix(b";")?;
    let rest = element.strip_prefix(FLINK_DOTTED)?;
    is_migration_type(rest).then(|| [&name[..=dims], MIGRATION_DOTTED, rest, b";"].concat())
}

/// The renamed JVM field signature (`Lorg/apache/flink/X;`, `[Lorg/apache/flink/X;`, ...)
/// when it names a migration type, else `None`.
pub fn type_string(signature: &[u8]) -> Option<Vec<u8>> {
    let dims = signature.iter().take_while(|&&b| b == b'[').count();
    let element = signature[dims..].strip_prefix(b"L")?.strip_suffix(b";")?;
    let rest = element.strip_prefix(FLINK_SLASHED)?;
    let dotted: Vec<u8> = rest
        .iter()
        .map(|&b| if b == b'/' { b'.' } else { b })
        .collect();
    is_migration_type(&dotted)
        .then(|| [&signature[..=dims], MIGRATION_SLASHED, rest, b";"].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renamed(name: &str) -> Option<String> {
        class_name(name.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    fn signature(sig: &str) -> Option<String> {
        type_string(sig.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn renames_migration_classes_only() {
        assert_eq!(
            renamed("org.apache.flink.streaming.runtime.tasks.StreamTaskStateList").as_deref(),
            Some("org.apache.flink.migration.streaming.runtime.tasks.StreamTaskStateList")
        );
        assert_eq!(
            renamed("org.apache.flink.runtime.state.memory.MemValueState$Snapshot").as_deref(),
            Some("org.apache.flink.migration.runtime.state.memory.MemValueState$Snapshot")
        );
        assert_eq!(
            renamed("org.apache.flink.contrib.streaming.state.RocksDBStateBackend$FinalSemiAsyncSnapshot")
                .as_deref(),
            Some("org.apache.flink.migration.contrib.streaming.state.RocksDBStateBackend$FinalSemiAsyncSnapshot")
        );
        for keep in [
            "org.apache.flink.api.common.typeutils.base.LongSerializer",
            "org.apache.flink.api.common.state.ValueStateDescriptor",
            "org.apache.flink.api.java.tuple.Tuple2",
            "org.apache.flink.core.fs.Path",
            "java.util.HashMap",
            "[B",
            // Near misses: a longer class name, a nested class of a migration class that
            // does not exist, an already-renamed name, a different package.
            "org.apache.flink.runtime.state.memory.ByteStreamStateHandleX",
            "org.apache.flink.runtime.state.memory.MemValueState",
            "org.apache.flink.migration.runtime.state.memory.ByteStreamStateHandle",
            "com.example.org.apache.flink.runtime.state.memory.ByteStreamStateHandle",
            "org.apache.flink.runtime.state.memory.MemoryStateBackend",
            "",
        ] {
            assert_eq!(renamed(keep), None, "{keep}");
        }
    }

    #[test]
    fn renames_array_names_of_any_dimension() {
        assert_eq!(
            renamed("[Lorg.apache.flink.streaming.runtime.tasks.StreamTaskState;").as_deref(),
            Some("[Lorg.apache.flink.migration.streaming.runtime.tasks.StreamTaskState;")
        );
        assert_eq!(
            renamed("[[Lorg.apache.flink.runtime.state.StateHandle;").as_deref(),
            Some("[[Lorg.apache.flink.migration.runtime.state.StateHandle;")
        );
        for keep in [
            "[Lorg.apache.flink.api.common.typeutils.TypeSerializer;",
            "[Lorg.apache.flink.streaming.runtime.tasks.StreamTaskState",
            "[org.apache.flink.streaming.runtime.tasks.StreamTaskState;",
            "[[",
        ] {
            assert_eq!(renamed(keep), None, "{keep}");
        }
    }

    #[test]
    fn renames_field_signatures_naming_migration_types() {
        assert_eq!(
            signature("Lorg/apache/flink/runtime/state/StateHandle;").as_deref(),
            Some("Lorg/apache/flink/migration/runtime/state/StateHandle;")
        );
        assert_eq!(
            signature("Lorg/apache/flink/runtime/state/StreamStateHandle;").as_deref(),
            Some("Lorg/apache/flink/migration/runtime/state/StreamStateHandle;")
        );
        assert_eq!(
            signature("[Lorg/apache/flink/streaming/runtime/tasks/StreamTaskState;").as_deref(),
            Some("[Lorg/apache/flink/migration/streaming/runtime/tasks/StreamTaskState;")
        );
        for keep in [
            "Lorg/apache/flink/api/common/typeutils/TypeSerializer;",
            "Lorg/apache/flink/core/fs/Path;",
            "Ljava/util/HashMap;",
            "[B",
            "J",
            // A dotted name is not a signature.
            "Lorg.apache.flink.runtime.state.StateHandle;",
        ] {
            assert_eq!(signature(keep), None, "{keep}");
        }
    }

    #[test]
    fn table_names_are_flink_1_1_names_and_unique() {
        for (i, t) in MIGRATION_TYPES.iter().enumerate() {
            assert!(
                t.starts_with("org.apache.flink.") && !t.contains(".migration."),
                "{t}"
            );
            assert!(!MIGRATION_TYPES[..i].contains(t), "{t} twice");
        }
    }
}
