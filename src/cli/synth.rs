//! `savepointfs synth OUT [options]`: writes a synthetic Flink 1.1 savepoint (and, for the
//! filesystem and RocksDB-with-files backends, its external state files). The layout
//! rules and the size accounting are documented in `savepointfs::synth`.

use super::{CliResult, Failure};
use savepointfs::synth::{
    self, Backend, KeyType, KeyedKind, Namespace, RocksDbMode, SynthSpec, ValueType,
};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BackendArg {
    Memory,
    Filesystem,
    Rocksdb,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum RocksDbModeArg {
    FullyAsync,
    SemiAsync,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum StateKindArg {
    /// `ValueState<Long>`.
    Value,
    /// `ListState<Long>`: 1 to 3 elements per key.
    List,
    /// `ReducingState<Long>` (a user sum function, named in the descriptor).
    Reducing,
    /// `FoldingState<Long, Long>` (a user fold function from 0L).
    Folding,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ValueTypeArg {
    /// `Long` values (below 10^6).
    Long,
    /// `String` values: "v" and 6 digits.
    String,
    /// POJO values `savepointfs.synth.Pojo` { id: the Long, name: the String }.
    Pojo,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum NamespaceArg {
    /// Non-windowed state (`VoidSerializer`).
    Void,
    /// `TimeWindow`s: each key in one of 3 windows [0, 1000), [1000, 2000), [2000, 3000).
    TimeWindow,
    /// `GlobalWindow`.
    GlobalWindow,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum KeyTypeArg {
    /// `Tuple1<Long>` keys (a keyBy(0) on a tuple, like the fixture job).
    Tuple1,
    /// Plain `Long` keys.
    Long,
    /// `Integer` keys.
    Int,
    /// `String` keys: "k" and 11 digits.
    String,
    /// `Tuple2<Long, String>` keys.
    Tuple2LongString,
    /// POJO keys `savepointfs.synth.Pojo` { id: Long, name: the String key }.
    Pojo,
}

#[derive(clap::Args)]
pub struct SynthArgs {
    /// The savepoint file to write (overwritten if it exists).
    pub out: PathBuf,
    /// Number of job vertices (tasks). Vertex 0 is an unkeyed source when there are two or more.
    #[arg(long, default_value_t = 3)]
    pub vertices: u32,
    #[arg(long, default_value_t = 4)]
    pub parallelism: u32,
    /// Operators per chain; the head operator is the last chain entry.
    #[arg(long, default_value_t = 2)]
    pub chain: u32,
    #[arg(long, value_enum, default_value = "memory")]
    pub backend: BackendArg,
    /// Total state bytes (the sum of every subtask's stateSize), e.g. 4096, 16MiB, 4GiB.
    #[arg(long, default_value = "64KiB", value_parser = synth::parse_size)]
    pub state_bytes: u64,
    /// Keyed states per keyed chain entry.
    #[arg(long, default_value_t = 1)]
    pub keyed_states: u32,
    /// The kinds of the keyed states, all of Long values (comma-separated: state i is of
    /// the (i mod n)-th).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "value")]
    pub state_kind: Vec<StateKindArg>,
    /// The namespace of every keyed state.
    #[arg(long, value_enum, default_value = "void")]
    pub namespace: NamespaceArg,
    /// The value type of every keyed state (and of list elements).
    #[arg(long, value_enum, default_value = "long")]
    pub value_type: ValueTypeArg,
    /// Keys per keyed state, over all subtasks [default: about half of --state-bytes as keyed data].
    #[arg(long)]
    pub keys: Option<u64>,
    #[arg(long, value_enum, default_value = "tuple1")]
    pub key_type: KeyTypeArg,
    /// Where external state files go [default: OUT's directory + "/state"].
    #[arg(long)]
    pub external_dir: Option<PathBuf>,
    /// PRNG seed: the same options and seed give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 10)]
    pub checkpoint_id: i64,
    /// RocksDB snapshot mode; semi-async (the Flink 1.1 default) cannot be migrated.
    #[arg(long, value_enum, default_value = "fully-async")]
    pub rocksdb_mode: RocksDbModeArg,
    /// RocksDB over an FsStateBackend: its stream and large function/operator state go to files.
    #[arg(long)]
    pub rocksdb_files: bool,
    /// Put one key into the wrong subtask (its key group names another).
    #[arg(long)]
    pub misplace_key: bool,
    /// Keyed state on two chain entries (Flink 1.2 refuses such a savepoint).
    #[arg(long)]
    pub two_keyed_entries: bool,
    /// Chain entry 0 is null (a stateless chained operator, like the fixture's sink).
    #[arg(long)]
    pub null_entries: bool,
    /// Also write the uids of the stateful chain entries that are not chain heads, as
    /// `--uid-file` takes them (per-operator targets need them).
    #[arg(long, value_name = "FILE")]
    pub uid_file: Option<PathBuf>,
    /// Also write what the savepoint holds: a line describing each keyed state, then one
    /// JSON line per value (vertex, state, key, namespace, value), for
    /// `scripts/flinkdump` to compare with what Flink reads back.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Also write the key serializer as a Java stream, which `--key-serializer java:FILE`
    /// takes for the savepoint's RocksDB state.
    #[arg(long, value_name = "FILE")]
    pub key_serializer_out: Option<PathBuf>,
}

impl SynthArgs {
    pub fn spec(&self) -> SynthSpec {
        SynthSpec {
            vertices: self.vertices,
            parallelism: self.parallelism,
            chain: self.chain,
            backend: match self.backend {
                BackendArg::Memory => Backend::Memory,
                BackendArg::Filesystem => Backend::Filesystem,
                BackendArg::Rocksdb => Backend::RocksDb,
            },
            state_bytes: self.state_bytes,
            keyed_states: self.keyed_states,
            keyed_kinds: self
                .state_kind
                .iter()
                .map(|k| match k {
                    StateKindArg::Value => KeyedKind::Value,
                    StateKindArg::List => KeyedKind::List,
                    StateKindArg::Reducing => KeyedKind::Reducing,
                    StateKindArg::Folding => KeyedKind::Folding,
                })
                .collect(),
            namespace: match self.namespace {
                NamespaceArg::Void => Namespace::Void,
                NamespaceArg::TimeWindow => Namespace::TimeWindow,
                NamespaceArg::GlobalWindow => Namespace::GlobalWindow,
            },
            value_type: match self.value_type {
                ValueTypeArg::Long => ValueType::Long,
                ValueTypeArg::String => ValueType::String,
                ValueTypeArg::Pojo => ValueType::Pojo,
            },
            keys: self.keys,
            key_type: match self.key_type {
                KeyTypeArg::Tuple1 => KeyType::Tuple1Long,
                KeyTypeArg::Long => KeyType::Long,
                KeyTypeArg::Int => KeyType::Int,
                KeyTypeArg::String => KeyType::String,
                KeyTypeArg::Tuple2LongString => KeyType::Tuple2LongString,
                KeyTypeArg::Pojo => KeyType::Pojo,
            },
            external_dir: self.external_dir.clone(),
            seed: self.seed,
            checkpoint_id: self.checkpoint_id,
            rocksdb_mode: match self.rocksdb_mode {
                RocksDbModeArg::FullyAsync => RocksDbMode::FullyAsync,
                RocksDbModeArg::SemiAsync => RocksDbMode::SemiAsync,
            },
            rocksdb_files: self.rocksdb_files,
            misplace_key: self.misplace_key,
            two_keyed_entries: self.two_keyed_entries,
            null_entries: self.null_entries,
        }
    }
}

pub fn run(args: SynthArgs) -> CliResult {
    let summary = synth::generate(&args.spec(), &args.out).map_err(Failure::other)?;
    if let Some(f) = &args.uid_file {
        let mut text = summary.uids.join("\n");
        text.push('\n');
        std::fs::write(f, text).map_err(|e| Failure::other(format!("{}: {e}", f.display())))?;
    }
    if let Some(f) = &args.key_serializer_out {
        let stream = synth::key_serializer_stream(args.spec().key_type).map_err(Failure::other)?;
        std::fs::write(f, stream).map_err(|e| Failure::other(format!("{}: {e}", f.display())))?;
    }
    if let Some(f) = &args.manifest {
        let fail = |e: std::io::Error| Failure::other(format!("{}: {e}", f.display()));
        let file = std::fs::File::create(f).map_err(fail)?;
        let mut w = std::io::BufWriter::new(file);
        synth::write_manifest(&args.spec(), &mut w).map_err(Failure::other)?;
        std::io::Write::flush(&mut w).map_err(fail)?;
    }
    println!(
        "{}: Flink 1.1 savepoint, {} bytes, {} subtasks, {} state bytes, {} keys per keyed state",
        summary.savepoint.display(),
        summary.file_size,
        summary.subtasks,
        summary.state_bytes,
        summary.keys_per_state
    );
    if let Some(dir) = &summary.external_dir {
        println!(
            "{} external state files, {} bytes, in {}",
            summary.external_files,
            summary.external_bytes,
            dir.display()
        );
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct WrapArgs {
    /// The operator snapshot: one Java-serialized StreamTaskState.
    pub snapshot: PathBuf,
    /// The savepoint file to write (overwritten if it exists).
    pub out: PathBuf,
    /// The operator's uid: the vertex id is the operator id Flink derives from it.
    #[arg(long)]
    pub uid: String,
    /// Subtasks, each holding the snapshot.
    #[arg(long, default_value_t = 1)]
    pub parallelism: u32,
    #[arg(long, default_value_t = 1)]
    pub checkpoint_id: i64,
}

pub fn run_wrap(args: WrapArgs) -> CliResult {
    let w = synth::wrap::Wrap {
        snapshot: &args.snapshot,
        uid: &args.uid,
        parallelism: args.parallelism,
        checkpoint_id: args.checkpoint_id,
    };
    let vertex = synth::wrap::wrap(&w, &args.out).map_err(Failure::input)?;
    println!(
        "{}: Flink 1.1 savepoint, vertex {} (uid {:?}), {} subtask(s)",
        args.out.display(),
        savepointfs::ids::hex(&vertex),
        args.uid,
        args.parallelism
    );
    Ok(())
}
