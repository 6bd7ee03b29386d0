//! Test-only: writes small Java serialization streams of Flink 1.1 state objects that no
//! fixture holds (filesystem handles, RocksDB snapshots, unknown classes), following the
//! grammar of legacy-formats.md §5 (descriptors are written once and referenced after).

use std::collections::HashMap;

/// A class descriptor: name, flags and (typecode, name, JVM type) fields, plus super.
#[derive(Clone)]
pub struct Desc {
    pub name: &'static str,
    pub flags: u8,
    pub fields: Vec<(u8, &'static str, &'static str)>,
    pub sup: Option<Box<Desc>>,
}

pub fn desc(
    name: &'static str,
    flags: u8,
    fields: &[(u8, &'static str, &'static str)],
    sup: Option<Desc>,
) -> Desc {
    Desc {
        name,
        flags,
        fields: fields.to_vec(),
        sup: sup.map(Box::new),
    }
}

pub struct J {
    pub out: Vec<u8>,
    next: u32,
    descs: HashMap<&'static str, u32>,
}

impl J {
    pub fn new() -> J {
        J {
            out: vec![0xAC, 0xED, 0, 5],
            next: 0x7E_0000,
            descs: HashMap::new(),
        }
    }

    fn handle(&mut self) -> u32 {
        self.next += 1;
        self.next - 1
    }

    fn utf(&mut self, s: &str) {
        self.out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }

    pub fn string(&mut self, s: &str) {
        self.out.push(0x74);
        self.handle();
        self.utf(s);
    }

    pub fn null(&mut self) {
        self.out.push(0x70);
    }

    pub fn raw(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    pub fn block(&mut self, b: &[u8]) {
        self.out.push(0x77);
        self.out.push(b.len() as u8);
        self.out.extend_from_slice(b);
    }

    pub fn end_block(&mut self) {
        self.out.push(0x78);
    }

    pub fn class_desc(&mut self, d: &Desc) {
        if let Some(&h) = self.descs.get(d.name) {
            self.out.push(0x71);
            self.out.extend_from_slice(&h.to_be_bytes());
            return;
        }
        self.out.push(0x72);
        self.utf(d.name);
        self.out.extend_from_slice(&1i64.to_be_bytes());
        let h = self.handle();
        self.descs.insert(d.name, h);
        self.out.push(d.flags);
        self.out
            .extend_from_slice(&(d.fields.len() as u16).to_be_bytes());
        for &(t, name, ty) in &d.fields {
            self.out.push(t);
            self.utf(name);
            if t == b'L' || t == b'[' {
                self.string(ty);
            }
        }
        self.end_block();
        match &d.sup {
            Some(s) => self.class_desc(s),
            None => self.null(),
        }
    }

    /// An object: descriptor, handle, then `data` writes the class data (top class first).
    pub fn object(&mut self, d: &Desc, data: impl FnOnce(&mut J)) {
        self.out.push(0x73);
        self.class_desc(d);
        self.handle();
        data(self);
    }

    pub fn byte_array(&mut self, b: &[u8]) {
        self.out.push(0x75);
        self.class_desc(&desc("[B", 0x02, &[], None));
        self.out.extend_from_slice(&(b.len() as i32).to_be_bytes());
        self.handle();
        self.out.extend_from_slice(b);
    }

    /// An object array of `class`, elements written by `elems`.
    pub fn object_array(&mut self, class: &'static str, n: i32, elems: impl FnOnce(&mut J)) {
        self.out.push(0x75);
        self.class_desc(&desc(class, 0x02, &[], None));
        self.out.extend_from_slice(&n.to_be_bytes());
        self.handle();
        elems(self);
    }

    /// A `java.net.URI` holding `s`.
    pub fn uri(&mut self, s: &str) {
        let d = desc(
            "java.net.URI",
            0x03,
            &[(b'L', "string", "Ljava/lang/String;")],
            None,
        );
        self.object(&d, |j| {
            j.string(s);
            j.end_block();
        });
    }

    /// A `core.fs.Path` holding a URI.
    pub fn path(&mut self, s: &str) {
        let d = desc(
            "org.apache.flink.core.fs.Path",
            0x02,
            &[(b'L', "uri", "Ljava/net/URI;")],
            None,
        );
        self.object(&d, |j| j.uri(s));
    }

    /// A `java.util.HashMap` with `n` entries written by `entries` (key, value, ...).
    pub fn hash_map(&mut self, n: i32, entries: impl FnOnce(&mut J)) {
        let d = desc(
            "java.util.HashMap",
            0x03,
            &[(b'F', "loadFactor", ""), (b'I', "threshold", "")],
            None,
        );
        self.object(&d, |j| {
            j.raw(&0.75f32.to_be_bytes());
            j.raw(&12i32.to_be_bytes());
            let mut b = 16i32.to_be_bytes().to_vec();
            b.extend_from_slice(&n.to_be_bytes());
            j.block(&b);
            entries(j);
            j.end_block();
        });
    }
}

pub fn closeable() -> Desc {
    desc(
        "org.apache.flink.runtime.state.AbstractCloseableHandle",
        0x02,
        &[],
        None,
    )
}

pub fn file_handle_super() -> Desc {
    desc(
        "org.apache.flink.runtime.state.filesystem.AbstractFileStateHandle",
        0x02,
        &[(b'L', "filePath", "Lorg/apache/flink/core/fs/Path;")],
        Some(closeable()),
    )
}

pub const TASK_STATE_FIELDS: [(u8, &str, &str); 3] = [
    (
        b'L',
        "functionState",
        "Lorg/apache/flink/runtime/state/StateHandle;",
    ),
    (b'L', "kvStates", "Ljava/util/HashMap;"),
    (
        b'L',
        "operatorState",
        "Lorg/apache/flink/runtime/state/StateHandle;",
    ),
];

/// A `StreamTaskStateList` blob whose chain entries are written by `entries` (each a
/// `StreamTaskState` or null); `n` is the chain length.
pub fn task_state_list(n: i32, entries: impl FnOnce(&mut J)) -> Vec<u8> {
    let mut j = J::new();
    let list = desc(
        "org.apache.flink.streaming.runtime.tasks.StreamTaskStateList",
        0x02,
        &[(
            b'[',
            "states",
            "[Lorg/apache/flink/streaming/runtime/tasks/StreamTaskState;",
        )],
        None,
    );
    j.object(&list, |j| {
        j.object_array(
            "[Lorg.apache.flink.streaming.runtime.tasks.StreamTaskState;",
            n,
            entries,
        )
    });
    j.out
}

/// One `StreamTaskState` with its three fields written by the closures.
pub fn task_state(
    j: &mut J,
    function: impl FnOnce(&mut J),
    kv: impl FnOnce(&mut J),
    operator: impl FnOnce(&mut J),
) {
    let d = desc(
        "org.apache.flink.streaming.runtime.tasks.StreamTaskState",
        0x02,
        &TASK_STATE_FIELDS,
        None,
    );
    j.object(&d, |j| {
        function(j);
        kv(j);
        operator(j);
    });
}
