//! The tree's layout: where each converted file lives.

use crate::convert::FileKind;

/// The tree path of a converted file, as `_metadata` names it.
pub fn file_path(f: crate::convert::FileRef<'_>) -> String {
    path(f.vertex, f.subtask, f.chain, f.kind)
}

/// `<vertex>/subtask-<i>/[chain-<k>/]<file>`.
pub fn path(vertex: &[u8; 16], subtask: u32, chain: Option<usize>, kind: FileKind) -> String {
    let vertex = crate::ids::hex(vertex);
    let sub = subtask_dir(subtask);
    match chain {
        Some(k) => format!("{vertex}/{sub}/{}/{}", chain_dir(k), kind.file_name()),
        None => format!("{vertex}/{sub}/{}", kind.file_name()),
    }
}

/// A subtask's directory: `subtask-<index>` (the index Flink gave it).
pub fn subtask_dir(index: u32) -> String {
    format!("subtask-{index}")
}

/// The index a subtask directory's name stands for (only its canonical spelling).
pub fn parse_subtask_dir(name: &str) -> Option<u32> {
    name.strip_prefix("subtask-")
        .and_then(|n| n.parse().ok())
        .filter(|&i| subtask_dir(i) == name)
}

/// A chain entry's directory: `chain-<k>` (its position, head last).
pub fn chain_dir(k: usize) -> String {
    format!("chain-{k}")
}
