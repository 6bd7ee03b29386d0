//! `synth --manifest FILE`: what a synthetic savepoint holds, for an oracle to compare
//! with what a real Flink reads back (`scripts/flinkdump`). The first line describes
//! each keyed state: its vertex, the id and uid of the operator that holds it (the chain
//! head's id is the vertex's; any other entry's comes from its uid), its name, kind and
//! key, namespace and value types. Then one JSON line per value: `vertex`, `state`,
//! `key`, `namespace`, `value` (a `Tuple1<Long>` key is a one-element array, the void
//! namespace `null`, a list value an array). Keys and values are regenerated from the seed, exactly as the
//! savepoint writer draws them, so nothing is held per key.

use super::blob::values;
use super::plan::{Plan, list_len, plan};
use super::state_bytes::{entries, value};
use super::{KeyedKind, Namespace, SynthError, SynthSpec};
use crate::ids::hex;
use serde_json::json;
use std::io::Write;

/// Writes the manifest of `spec` to `out`; returns the number of value lines.
pub fn write_manifest(spec: &SynthSpec, out: &mut dyn Write) -> Result<u64, SynthError> {
    let plan = plan(spec)?;
    let io = |e| SynthError::Io {
        path: "the manifest".into(),
        source: e,
    };
    let key_type = plan.key_type.name();
    writeln!(out, "{}", header(&plan, spec, key_type)).map_err(io)?;
    let mut lines = 0;
    for v in &plan.vertices {
        let vertex = hex(&v.id);
        for st in &v.subtasks {
            for (k, entry) in st.chain.iter().enumerate() {
                let Some(keyed) = entry.as_ref().and_then(|e| e.keyed.as_ref()) else {
                    continue;
                };
                for state in &keyed.states {
                    let mut rng = values(spec.seed, v.index, st.index, k, state);
                    let rocks = spec.backend == super::Backend::RocksDb;
                    for (w, i, key) in entries(&state.keys, state.namespace, rocks) {
                        let key = plan.key_type.json(key);
                        let value = match state.kind {
                            KeyedKind::Value | KeyedKind::Reducing | KeyedKind::Folding => {
                                state.value_type.json(value(&mut rng))
                            }
                            KeyedKind::List => {
                                let n = list_len(i);
                                let values: Vec<_> = (0..n)
                                    .map(|_| state.value_type.json(value(&mut rng)))
                                    .collect();
                                json!(values)
                            }
                        };
                        let line = json!({
                            "vertex": vertex,
                            "state": state.name,
                            "key": key,
                            "namespace": namespace_json(state.namespace, w),
                            "value": value,
                        });
                        writeln!(out, "{line}").map_err(io)?;
                        lines += 1;
                    }
                }
            }
        }
    }
    Ok(lines)
}

/// A namespace as JSON: `null` (void), `{"start": S, "end": E}` (a time window), `{}`
/// (the global window).
fn namespace_json(namespace: Namespace, w: u64) -> serde_json::Value {
    match namespace {
        Namespace::Void => serde_json::Value::Null,
        Namespace::TimeWindow => {
            let (start, end) = Namespace::window(w);
            json!({ "start": start, "end": end })
        }
        Namespace::GlobalWindow => json!({}),
    }
}

/// `{"states": [...], "parallelism": P}`: every keyed state once, with the operator
/// that holds it.
fn header(plan: &Plan, spec: &SynthSpec, key_type: &str) -> serde_json::Value {
    let mut states = Vec::new();
    for v in &plan.vertices {
        let chain = v.subtasks.iter().map(|s| s.chain.len()).max().unwrap_or(0);
        let mut seen = std::collections::BTreeSet::new();
        for st in &v.subtasks {
            for (k, entry) in st.chain.iter().enumerate() {
                let Some(keyed) = entry.as_ref().and_then(|e| e.keyed.as_ref()) else {
                    continue;
                };
                for state in &keyed.states {
                    if !seen.insert((k, state.name.clone())) {
                        continue;
                    }
                    let (operator, uid) = if k + 1 == chain {
                        (v.id, None)
                    } else {
                        let uid = super::output::entry_uid(v.index, k);
                        (crate::modern::operator_id_of_uid(&uid), Some(uid))
                    };
                    states.push(json!({
                        "vertex": hex(&v.id),
                        "operator": hex(&operator),
                        "uid": uid,
                        "chain": k,
                        "state": state.name,
                        "kind": state.kind.name(),
                        "key": key_type,
                        "namespace": state.namespace.name(),
                        "value": state.value_type.name(),
                    }));
                }
            }
        }
    }
    json!({ "manifest": 1, "parallelism": spec.parallelism, "states": states })
}
