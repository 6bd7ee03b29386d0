//! Exercises the typed access layer on every node of a parsed graph, the way a consumer
//! of a weird but well-formed graph would: errors are fine, panics are bugs. Shared by
//! the hostile-input tests and the fuzz target (`fuzz/fuzz_targets/javaser_parse.rs`).

use savepointfs::javaser::{Graph, NodeId, NodeKind, Value};
use std::hint::black_box;

pub fn walk(g: &Graph) {
    for root in g.roots() {
        let _ = black_box(g.object(root).is_ok());
        let _ = black_box(g.string_value(root).is_ok());
        let _ = black_box(g.byte_array(root).is_ok());
    }
    for id in 0..g.nodes.len() as NodeId {
        black_box(g.class_name_of(id));
        let v = Value::Node(id);
        match &g.node(id).kind {
            NodeKind::String(_) => {
                black_box(g.string(id));
                let _ = black_box(g.string_value(v));
            }
            NodeKind::ClassDesc(_) => {
                assert!(g.hierarchy(id).first() == Some(&id));
            }
            NodeKind::Array(_) => {
                let _ = black_box(g.array(v).is_ok());
                let _ = black_box(g.byte_array(v));
            }
            NodeKind::Object(o) => {
                let view = g.object(v).expect("an object node").expect("not null");
                black_box(view.class_name());
                black_box(view.is_a("java.util.HashMap"));
                let _ = black_box(view.hash_map_entries());
                let _ = black_box(view.array_list_elements());
                let _ = black_box(view.field("f0"));
                let _ = black_box(view.boxed());
                for data in &o.class_data {
                    let Some(desc) = g.class_desc(data.desc) else {
                        panic!("class data of node {id} names a non-descriptor")
                    };
                    for f in &desc.fields {
                        let name = f.name.lossy();
                        if let Ok(value) = view.require(&name) {
                            let _ = black_box(g.object(value).is_ok());
                            let _ = black_box(g.string_value(value));
                            let _ = black_box(g.array(value).is_ok());
                        }
                    }
                    if let Ok(mut a) = view.annotation(&desc.name.lossy()) {
                        black_box(a.at_end());
                        let _ = black_box(a.read_i64());
                        let _ = black_box(a.read_object());
                        let _ = black_box(a.read_bool());
                        black_box(a.at_end());
                    }
                }
            }
            NodeKind::Class { .. } | NodeKind::Enum { .. } => {}
        }
    }
}
