//! What converting a subtask gives: its files, each with its bytes, where its state
//! starts and the header facts later stages need (rescaling, views, `_metadata`).

use super::FileKind;
use super::error::Error;
use super::keys;
use super::operators::NativeLoss;
use crate::source::Source;
use crate::stream::MultiStream;
use std::sync::Arc;

/// A converted file: its bytes, the Flink 1.1 handle class(es) they came from, and
/// where its state starts (the offset a V1 handle records: key-group or operator-state
/// offset; 0 for plain streams).
#[derive(Clone)]
pub struct ConvertedFile {
    pub stream: Arc<MultiStream>,
    pub handle: String,
    pub offset: u64,
    /// Where a file holds several key groups or list elements (a rescaled keyed stream, a
    /// merged operator state), every one of its offsets; `None`: just `offset`.
    pub offsets: Option<Arc<Offsets>>,
    /// A `managed-keyed-state-v6` file's header facts, which rescaling re-files by.
    pub keyed: Option<Arc<KeyedInfo>>,
    /// The operator list state a managed operator stream holds, where it is not
    /// `_default_` (a built-in operator's own).
    pub list_state: Option<&'static str>,
}

/// The offsets of a file with several key groups (from `first_key_group`, 0 for a group
/// without records) or list elements (`first_key_group` unused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offsets {
    pub first_key_group: u32,
    pub offsets: Vec<u64>,
}

/// What a canonical keyed stream's header says, kept so the records can be re-filed.
pub struct KeyedInfo {
    pub key: crate::modern::Snapshot,
    /// How to read a key to hash it (`Err`: a serializer we cannot read).
    pub key_codec: Result<keys::Codec, super::error::SerializerError>,
    pub states: Vec<crate::modern::proxy::KeyedStateMeta>,
    /// The stream's max parallelism (its key-group prefixes are 1 byte up to 128, else 2).
    pub max_parallelism: u32,
}

pub type FileResult = Result<ConvertedFile, Error>;

/// The files of one non-null chain entry.
pub struct ConvertedEntry {
    pub index: usize,
    /// `None` only in a rescaled tree, which holds only its target's forms.
    pub legacy_operator_state: Option<FileResult>,
    pub function_state: Option<FileResult>,
    pub operator_state: Option<FileResult>,
    /// Native: the function state as `ListCheckpointed` operator state.
    pub managed_operator_state: Option<FileResult>,
    /// The same with operator proxy v5 (Flink ≥ 1.8).
    pub managed_operator_state_v5: Option<FileResult>,
    /// The built-in operator its state says it is, if one with its own rules.
    pub operator: Option<super::operators::Operator>,
}

impl ConvertedEntry {
    /// Whether `target`'s `_metadata` names this entry's file of `kind`.
    pub fn named_by(&self, target: super::Target, kind: FileKind) -> bool {
        target.names(kind) && (kind != FileKind::OperatorState || self.raw_operator_state())
    }

    /// Whether the entry's own bytes are raw operator state: a window operator's are its
    /// timers, which every target carries in its keyed state instead, and the file
    /// reader's its splits, carried as its `splits` list.
    pub fn raw_operator_state(&self) -> bool {
        !self
            .operator
            .is_some_and(NativeLoss::bytes_carried_elsewhere)
    }

    /// The entry's files in tree order.
    pub fn files(&self) -> impl Iterator<Item = (FileKind, &FileResult)> {
        [
            (
                FileKind::LegacyOperatorState,
                self.legacy_operator_state.as_ref(),
            ),
            (FileKind::FunctionState, self.function_state.as_ref()),
            (FileKind::OperatorState, self.operator_state.as_ref()),
            (
                FileKind::ManagedOperatorState,
                self.managed_operator_state.as_ref(),
            ),
            (
                FileKind::ManagedOperatorStateV5,
                self.managed_operator_state_v5.as_ref(),
            ),
        ]
        .into_iter()
        .filter_map(|(k, f)| f.map(|f| (k, f)))
    }
}

/// All converted files of one subtask.
pub struct ConvertedSubtask {
    /// Chain entries (head operator last); `None` where Flink 1.1 stored null.
    pub chain: Vec<Option<ConvertedEntry>>,
    /// `None` when no chain entry had keyed state.
    pub keyed_state: Option<FileResult>,
    /// Native: the key-group stream of the subtask's keyed state.
    pub managed_keyed_state: Option<FileResult>,
    /// Flink ≥ 1.13: proxy v6 and the canonical savepoint layout.
    pub managed_keyed_state_v6: Option<FileResult>,
    /// Native: a WindowOperator's timers (`None` without one).
    pub raw_keyed_state: Option<FileResult>,
}

impl ConvertedSubtask {
    pub fn entry(&self, chain: usize) -> Option<&ConvertedEntry> {
        self.chain.get(chain)?.as_ref()
    }

    /// The subtask-level files in tree order.
    pub fn subtask_files(&self) -> impl Iterator<Item = (FileKind, &FileResult)> {
        [
            (FileKind::KeyedState, self.keyed_state.as_ref()),
            (
                FileKind::ManagedKeyedState,
                self.managed_keyed_state.as_ref(),
            ),
            (
                FileKind::ManagedKeyedStateV6,
                self.managed_keyed_state_v6.as_ref(),
            ),
            (FileKind::RawKeyedState, self.raw_keyed_state.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, f)| f.map(|f| (k, f)))
    }

    /// Every file with its chain index (`None` for subtask-level files).
    pub fn files(&self) -> impl Iterator<Item = (Option<usize>, FileKind, &FileResult)> {
        let entries = self
            .chain
            .iter()
            .flatten()
            .flat_map(|e| e.files().map(move |(k, f)| (Some(e.index), k, f)));
        entries.chain(self.subtask_files().map(|(k, f)| (None, k, f)))
    }

    /// A file by position.
    pub fn file(&self, chain: Option<usize>, kind: FileKind) -> Option<&FileResult> {
        self.files()
            .find(|(c, k, _)| *c == chain && *k == kind)
            .map(|(_, _, f)| f)
    }

    /// Approximate heap bytes held (for the cache's byte bound).
    pub fn heap_bytes(&self) -> usize {
        let owned: usize = self
            .files()
            .filter_map(|(_, _, f)| f.as_ref().ok())
            .map(|f| f.stream.held_bytes() + 128)
            .sum();
        owned + 256 + self.chain.len() * 64
    }
}
