//! Instances: strings, objects with their class data, arrays, classes and enum constants.

use super::super::error::ErrorKind;
use super::super::model::*;
use super::super::{flags, tc};
use super::{PREALLOCATE, PathSeg, Reader, Res, VALUE_COST, primitive_size};

impl Reader<'_, '_> {
    pub(super) fn new_string(&mut self) -> Res<NodeId> {
        let start = self.cur.pos;
        let s = if self.u8("string")? == tc::STRING {
            JString::Short(self.utf("string")?)
        } else {
            let len_off = self.cur.pos;
            let n = self.i64("long string length")?;
            if n < 0 {
                return Err(self.fail_at(
                    ErrorKind::NegativeLength {
                        what: "long string",
                        len: n,
                    },
                    len_off,
                ));
            }
            JString::Long(self.skip(n as u64, "long string")?)
        };
        let id = self.push_node(NodeKind::String(s), start)?;
        self.nodes[id as usize].span.len = self.cur.pos - start;
        self.assign_handle(id)?;
        Ok(id)
    }

    pub(super) fn new_object(&mut self) -> Res<NodeId> {
        let (id, chain) = self.object_head()?;
        // Each class's record goes into the node as soon as it starts, and values are
        // stored as they are read, so this frame (one per nesting level) holds no
        // records of its own.
        for &desc in chain.iter().rev() {
            let (fields, annotated) = self.open_class_data(id, desc);
            for index in 0..fields {
                self.path.push(PathSeg::Field {
                    desc,
                    index: index as u16,
                });
                let value = self.field_value(desc, index)?;
                self.charge(VALUE_COST, self.cur.pos)?;
                self.path.pop();
                self.last_class_data(id).values.push(value);
            }
            if annotated {
                self.path.push(PathSeg::Annotation(desc));
                let annotation = self.annotation()?;
                self.path.pop();
                self.last_class_data(id).annotation = Some(annotation);
            }
        }
        let node = &mut self.nodes[id as usize];
        node.span.len = self.cur.pos - node.span.start;
        Ok(id)
    }

    /// An object up to its class data: type code, descriptor, node and handle. Returns
    /// the node and the classes whose data follows, most derived first (just the
    /// object's own class when it is externalizable: its data is one annotation).
    pub(super) fn object_head(&mut self) -> Res<(NodeId, Vec<NodeId>)> {
        let start = self.cur.pos;
        self.u8("object")?;
        let desc = self.instance_desc()?;
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        let f = self.class_flags(desc);
        let chain = if f & flags::EXTERNALIZABLE != 0 {
            if f & flags::BLOCK_DATA == 0 {
                return Err(self.fail(ErrorKind::ExternalizableProtocol1 {
                    class: self.class_name(desc),
                }));
            }
            vec![desc]
        } else {
            self.hierarchy(desc, start)?
        };
        self.charge_records(chain.len(), start)?;
        self.nodes[id as usize].kind = NodeKind::Object(Object {
            desc,
            class_data: Vec::with_capacity(chain.len()),
        });
        Ok((id, chain))
    }

    /// Starts the record of class `desc` in object `id`. Returns how many field values
    /// follow in the stream and whether an annotation follows them: `writeObject` data
    /// of a serializable class, or all the data of an externalizable object's class.
    /// Other classes in the chain contribute nothing.
    pub(super) fn open_class_data(&mut self, id: NodeId, desc: NodeId) -> (usize, bool) {
        let own = matches!(&self.nodes[id as usize].kind, NodeKind::Object(o) if o.desc == desc);
        let (fields, annotated) = match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) if d.has(flags::SERIALIZABLE) => {
                (d.fields.len(), d.has(flags::WRITE_METHOD))
            }
            NodeKind::ClassDesc(d) => (0, own && d.has(flags::EXTERNALIZABLE)),
            _ => (0, false),
        };
        if let NodeKind::Object(o) = &mut self.nodes[id as usize].kind {
            o.class_data.push(ClassData {
                desc,
                values: Vec::with_capacity(fields.min(PREALLOCATE)),
                annotation: None,
            });
        }
        (fields, annotated)
    }

    /// The record being read of object `id` (opened by `open_class_data`).
    pub(super) fn last_class_data(&mut self, id: NodeId) -> &mut ClassData {
        match &mut self.nodes[id as usize].kind {
            NodeKind::Object(o) => o.class_data.last_mut().expect("opened before use"),
            _ => unreachable!("object_head made the node an object"),
        }
    }

    pub(super) fn class_flags(&self, desc: NodeId) -> u8 {
        match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) => d.flags,
            _ => 0,
        }
    }

    /// `desc` and its superclasses, most derived first. Chains cannot loop (a superclass
    /// is complete before its subclass is), but references can build one far longer
    /// than inline nesting could: it is held to the same depth limit.
    pub(super) fn hierarchy(&self, desc: NodeId, at: u64) -> Res<Vec<NodeId>> {
        let mut out = vec![desc];
        let mut cur = desc;
        while let NodeKind::ClassDesc(d) = &self.nodes[cur as usize].kind {
            let Some(next) = d.super_desc else { break };
            if out.len() >= self.limits.max_depth {
                return Err(self.fail_at(
                    ErrorKind::TooDeep {
                        limit: self.limits.max_depth,
                    },
                    at,
                ));
            }
            out.push(next);
            cur = next;
        }
        Ok(out)
    }

    /// The value of field `index` of class `desc`.
    pub(super) fn field_value(&mut self, desc: NodeId, index: usize) -> Res<Value> {
        let typecode = match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) => d.fields.get(index).map_or(b'L', |f| f.typecode),
            _ => b'L',
        };
        match typecode {
            b'L' | b'[' => self.value_object(),
            _ => self.primitive(typecode),
        }
    }

    pub(super) fn primitive(&mut self, typecode: u8) -> Res<Value> {
        Ok(match typecode {
            b'B' => Value::Byte(self.u8("byte field")? as i8),
            b'C' => Value::Char(self.u16("char field")?),
            b'D' => Value::Double(f64::from_bits(self.i64("double field")? as u64)),
            b'F' => Value::Float(f32::from_bits(self.i32("float field")? as u32)),
            b'I' => Value::Int(self.i32("int field")?),
            b'J' => Value::Long(self.i64("long field")?),
            b'S' => Value::Short(self.u16("short field")? as i16),
            _ => Value::Boolean(self.u8("boolean field")? != 0),
        })
    }

    pub(super) fn new_array(&mut self) -> Res<NodeId> {
        let (id, desc, length, elem) = self.array_head()?;
        let elements = match primitive_size(elem) {
            Some(size) => Elements::Primitive {
                typecode: elem,
                data: self.skip(length as u64 * size, "array elements")?,
            },
            None => {
                let mut values = Vec::with_capacity((length as usize).min(PREALLOCATE));
                for i in 0..length {
                    self.path.push(PathSeg::Element(i));
                    let v = self.value_object()?;
                    self.charge(VALUE_COST, self.cur.pos)?;
                    values.push(v);
                    self.path.pop();
                }
                Elements::Values(values)
            }
        };
        self.finish_node(
            id,
            NodeKind::Array(Array {
                desc,
                length,
                elements,
            }),
        );
        Ok(id)
    }

    /// An array up to its elements: type code, descriptor, length, node and handle.
    /// Returns the node, the descriptor, the length and the element type code.
    pub(super) fn array_head(&mut self) -> Res<(NodeId, NodeId, u32, u8)> {
        let start = self.cur.pos;
        self.u8("array")?;
        let desc = self.instance_desc()?;
        let elem = match &self.nodes[desc as usize].kind {
            NodeKind::ClassDesc(d) => match d.name.bytes() {
                [b'[', e, ..] if primitive_size(*e).is_some() || *e == b'L' || *e == b'[' => {
                    Some(*e)
                }
                _ => None,
            },
            _ => None,
        };
        let Some(elem) = elem else {
            return Err(self.fail(ErrorKind::BadArrayClass {
                class: self.class_name(desc),
            }));
        };
        let len_off = self.cur.pos;
        let length = self.i32("array length")?;
        if length < 0 {
            return Err(self.fail_at(
                ErrorKind::NegativeLength {
                    what: "array",
                    len: length as i64,
                },
                len_off,
            ));
        }
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        // Each element takes at least one byte.
        if primitive_size(elem).is_none() && length as u64 > self.cur.remaining() {
            return Err(self.fail(ErrorKind::Truncated {
                what: "array elements",
                need: length as u64,
                have: self.cur.remaining(),
            }));
        }
        Ok((id, desc, length as u32, elem))
    }

    pub(super) fn new_class(&mut self) -> Res<NodeId> {
        let start = self.cur.pos;
        self.u8("class")?;
        let desc = self.instance_desc()?;
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        self.finish_node(id, NodeKind::Class { desc });
        Ok(id)
    }

    pub(super) fn new_enum(&mut self) -> Res<NodeId> {
        let start = self.cur.pos;
        self.u8("enum")?;
        let desc = self.instance_desc()?;
        let id = self.push_node(NodeKind::Class { desc }, start)?;
        self.assign_handle(id)?;
        let constant = self.type_string()?;
        self.finish_node(id, NodeKind::Enum { desc, constant });
        Ok(id)
    }
}
