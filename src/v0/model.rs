//! The typed model of one subtask, decoded lazily from its blob (legacy-formats.md §2.1): a
//! `StreamTaskStateList` whose `states` array is the operator chain, head operator last.
//! The decoded Java graph is kept, because the conversion re-emits the keyed-state map
//! from it.

use super::error::{Error, Location, ModelProblem, Result};
use super::handles::{Ctx, KvSnapshot, StateHandle, decode_kv_snapshot, decode_state_handle};
use super::index::{SavepointIndex, SubtaskEntry, TaskEntry};
use super::uri::Measure;
use crate::javaser::{self, Elements, Graph, Limits, NodeId, Value};
use crate::source::{Source, Span};
use std::sync::Arc;

pub const STREAM_TASK_STATE_LIST: &str = crate::classnames::STREAM_TASK_STATE_LIST;
pub const STREAM_TASK_STATE: &str = crate::classnames::STREAM_TASK_STATE;

/// One named keyed state of a chain entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvState {
    /// The `kvStates` map key: the state name (heap backends) or `"dummy_state"` (RocksDB).
    pub name: String,
    /// The key's String node.
    pub key_node: NodeId,
    pub snapshot: KvSnapshot,
}

/// One operator of the chain (a non-null `StreamTaskState`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainEntry {
    /// Position in the chain (head operator last).
    pub index: usize,
    /// The `StreamTaskState` object.
    pub node: NodeId,
    pub function_state: Option<StateHandle>,
    pub operator_state: Option<StateHandle>,
    /// The `kvStates` HashMap object, when non-null (re-emitted by the conversion).
    pub kv_states_map: Option<NodeId>,
    /// Map entries in stream order (stable, unlike a HashMap of ours).
    pub kv_states: Vec<KvState>,
}

impl ChainEntry {
    /// Sum of the handle sizes (legacy-formats.md §2.6).
    pub fn state_size(&self, measure: &dyn Measure) -> u64 {
        let handles = [&self.function_state, &self.operator_state]
            .into_iter()
            .flatten()
            .map(|h| h.state_size(measure))
            .sum::<u64>();
        handles + self.keyed_state_size(measure).unwrap_or(0)
    }

    /// Sum of the keyed snapshots' sizes; `None` when the entry has no keyed state.
    pub fn keyed_state_size(&self, measure: &dyn Measure) -> Option<u64> {
        (!self.kv_states.is_empty()).then(|| {
            self.kv_states
                .iter()
                .map(|k| k.snapshot.state_size(measure))
                .sum()
        })
    }

    /// Decodes a `StreamTaskState` object as chain entry `index`.
    pub(crate) fn decode(ctx: &mut Ctx<'_>, v: Value, index: usize) -> Result<Option<ChainEntry>> {
        let Some(obj) = ctx.object(v)? else {
            return Ok(None);
        };
        if !obj.class_name().is(STREAM_TASK_STATE) {
            return Err(ctx.problem(
                Some(obj.id),
                ModelProblem::Unexpected {
                    expected: "a StreamTaskState",
                    found: obj.class_name().lossy(),
                },
            ));
        }
        let field = |ctx: &Ctx<'_>, name| obj.require(name).map_err(|e| ctx.java(e));
        let fv = field(ctx, "functionState")?;
        let function_state = ctx.field("functionState", |ctx| decode_state_handle(ctx, fv))?;
        let ov = field(ctx, "operatorState")?;
        let operator_state = ctx.field("operatorState", |ctx| decode_state_handle(ctx, ov))?;
        let kv = field(ctx, "kvStates")?;
        let (kv_states_map, kv_states) = ctx.field("kvStates", |ctx| decode_kv_states(ctx, kv))?;
        Ok(Some(ChainEntry {
            index,
            node: obj.id,
            function_state,
            operator_state,
            kv_states_map,
            kv_states,
        }))
    }
}

fn decode_kv_states(ctx: &mut Ctx<'_>, v: Value) -> Result<(Option<NodeId>, Vec<KvState>)> {
    let Some(map) = ctx.object(v)? else {
        return Ok((None, Vec::new()));
    };
    if !map.class_name().is("java.util.HashMap") {
        return Err(ctx.problem(
            Some(map.id),
            ModelProblem::Unexpected {
                expected: "a java.util.HashMap",
                found: map.class_name().lossy(),
            },
        ));
    }
    let entries = map.hash_map_entries().map_err(|e| ctx.java(e))?;
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let name = ctx
            .graph
            .string_value(k)
            .map_err(|e| ctx.java(e))?
            .ok_or_else(|| {
                ctx.problem(
                    Some(map.id),
                    ModelProblem::NullField {
                        field: "kvStates key",
                    },
                )
            })?;
        let key_node = k.node().unwrap_or(map.id);
        let snapshot = ctx.field(&format!("[{name:?}]"), |ctx| decode_kv_snapshot(ctx, v))?;
        out.push(KvState {
            name,
            key_node,
            snapshot,
        });
    }
    Ok((Some(map.id), out))
}

/// One subtask's state, decoded from its blob.
pub struct SubtaskModel {
    /// Task and subtask this came from.
    pub location: Location,
    /// The blob's span in the savepoint file.
    pub blob: Span,
    /// The parsed Java stream of the blob (spans point into the savepoint file).
    pub graph: Graph,
    /// The `StreamTaskStateList` object.
    pub root: NodeId,
    /// Its `states` array.
    pub states_array: NodeId,
    /// Chain entries in order (head operator last); `None` for operators without state.
    pub chain: Vec<Option<ChainEntry>>,
}

impl SubtaskModel {
    /// Decodes one subtask of an index.
    pub fn decode(
        index: &SavepointIndex,
        task: &TaskEntry,
        subtask: &SubtaskEntry,
    ) -> Result<SubtaskModel> {
        let location = task.location().with_subtask(subtask.index);
        let Some(blob) = subtask.blob else {
            return Err(Error::Model {
                source_name: index.source().name(),
                offset: subtask.offset,
                location: Box::new(location),
                problem: ModelProblem::NullBlob,
            });
        };
        Self::decode_blob(index.source().clone(), blob, location)
    }

    /// Decodes a blob at `blob` of `source`; `location` names it in errors.
    pub fn decode_blob(
        source: Arc<dyn Source>,
        blob: Span,
        location: Location,
    ) -> Result<SubtaskModel> {
        let graph = parse(source, blob, &location)?;
        let mut ctx = Ctx {
            graph: &graph,
            loc: location.clone(),
        };
        let root_value = first_root(&ctx)?;
        let root = ctx.object(root_value).ok().flatten().ok_or_else(|| {
            ctx.problem(
                root_value.node(),
                ModelProblem::Unexpected {
                    expected: "a StreamTaskStateList",
                    found: describe(&graph, root_value),
                },
            )
        })?;
        if !root.class_name().is(STREAM_TASK_STATE_LIST) {
            return Err(ctx.problem(
                Some(root.id),
                ModelProblem::Unexpected {
                    expected: "a StreamTaskStateList",
                    found: root.class_name().lossy(),
                },
            ));
        }
        let states = ctx.required(&root, "states")?;
        let (states_array, elements) = ctx.field("states", |ctx| {
            match ctx.graph.array(states).map_err(|e| ctx.java(e))? {
                Some((id, a)) => match &a.elements {
                    Elements::Values(vs) => Ok((id, vs.clone())),
                    Elements::Primitive { .. } => Err(ctx.problem(
                        Some(id),
                        ModelProblem::Unexpected {
                            expected: "a StreamTaskState[]",
                            found: "a primitive array".into(),
                        },
                    )),
                },
                None => {
                    Err(ctx.problem(Some(root.id), ModelProblem::NullField { field: "states" }))
                }
            }
        })?;
        let mut chain = Vec::with_capacity(elements.len());
        for (i, v) in elements.into_iter().enumerate() {
            ctx.loc.chain = Some(i);
            chain.push(ChainEntry::decode(&mut ctx, v, i)?);
        }
        let root = root.id;
        drop(ctx);
        Ok(SubtaskModel {
            location,
            blob,
            graph,
            root,
            states_array,
            chain,
        })
    }

    /// Number of operators in the chain (null entries included).
    pub fn chain_length(&self) -> usize {
        self.chain.len()
    }

    /// The non-null chain entries, in chain order.
    pub fn entries(&self) -> impl Iterator<Item = &ChainEntry> {
        self.chain.iter().flatten()
    }

    /// Sum of all handle sizes: what Flink 1.1 recorded as the subtask's stateSize.
    pub fn state_size(&self, measure: &dyn Measure) -> u64 {
        self.entries().map(|e| e.state_size(measure)).sum()
    }

    /// Sum of the keyed snapshots' sizes; `None` when no entry has keyed state.
    pub fn keyed_state_size(&self, measure: &dyn Measure) -> Option<u64> {
        self.entries()
            .filter_map(|e| e.keyed_state_size(measure))
            .reduce(|a, b| a + b)
    }

    /// Reasons Flink 1.2 could not migrate this subtask (legacy-formats.md §3.9); empty if none.
    pub fn migration_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .entries()
            .flat_map(|e| {
                e.kv_states.iter().filter_map(move |k| {
                    k.snapshot
                        .migration_problem()
                        .map(|p| format!("chain[{}] keyed state {:?}: {p}", e.index, k.name))
                })
            })
            .collect();
        let keyed: Vec<usize> = self
            .entries()
            .filter(|e| !e.kv_states.is_empty())
            .map(|e| e.index)
            .collect();
        if keyed.len() > 1 {
            out.push(format!(
                "chain entries {keyed:?} all have keyed state; Flink 1.2 converts keyed state of one chain entry per subtask only"
            ));
        }
        out
    }
}

/// Parses a Java stream at `span`, naming `location` in errors.
fn parse(source: Arc<dyn Source>, span: Span, location: &Location) -> Result<Graph> {
    javaser::parse_stream(source, span.start, span.end(), &Limits::default()).map_err(|e| {
        Error::Java {
            location: Box::new(location.clone()),
            error: Box::new(e),
        }
    })
}

/// What a value is, for messages: "null", "a string", "an object", "Int(3)".
fn describe(graph: &Graph, v: Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Node(id) => format!("a {}", graph.node(id).kind.label()),
        other => format!("{other:?}"),
    }
}

fn first_root(ctx: &Ctx<'_>) -> Result<Value> {
    ctx.graph.roots().next().ok_or_else(|| {
        ctx.problem(
            None,
            ModelProblem::Unexpected {
                expected: "a root object",
                found: "an empty stream".into(),
            },
        )
    })
}

/// A standalone `StreamTaskState` stream (the operator-snapshot fixtures of Flink 1.1's
/// test harnesses), decoded like a chain entry at index 0.
pub struct OperatorSnapshot {
    pub graph: Graph,
    pub entry: ChainEntry,
}

impl OperatorSnapshot {
    pub fn decode(source: Arc<dyn Source>, span: Span) -> Result<OperatorSnapshot> {
        let location = Location::default().with_chain(0);
        let graph = parse(source, span, &location)?;
        let mut ctx = Ctx {
            graph: &graph,
            loc: location,
        };
        let root = first_root(&ctx)?;
        let entry = ChainEntry::decode(&mut ctx, root, 0)?.ok_or_else(|| {
            ctx.problem(
                None,
                ModelProblem::Unexpected {
                    expected: "a StreamTaskState",
                    found: "null".into(),
                },
            )
        })?;
        drop(ctx);
        Ok(OperatorSnapshot { graph, entry })
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
