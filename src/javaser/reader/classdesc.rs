//! Class descriptors: `TC_CLASSDESC`, `TC_PROXYCLASSDESC`, references to them, and the
//! field-type strings inside them.

use super::super::error::ErrorKind;
use super::super::model::*;
use super::super::{flags, tc};
use super::{PathSeg, Reader, Res};
use std::collections::HashSet;

impl Reader<'_, '_> {
    /// A class descriptor position: TC_CLASSDESC, TC_PROXYCLASSDESC, TC_NULL or a reference to one.
    pub(super) fn class_desc(&mut self) -> Res<Option<NodeId>> {
        match self.peek("class descriptor")? {
            tc::CLASSDESC | tc::PROXYCLASSDESC => {
                self.enter()?;
                let id = self.new_class_desc()?;
                self.leave();
                Ok(Some(id))
            }
            _ => self.class_desc_other(),
        }
    }

    /// The non-recursive class descriptor positions: TC_NULL and references.
    pub(super) fn class_desc_other(&mut self) -> Res<Option<NodeId>> {
        let off = self.cur.pos;
        match self.peek("class descriptor")? {
            tc::NULL => {
                self.u8("null")?;
                Ok(None)
            }
            tc::REFERENCE => {
                let id = self.reference()?;
                if !matches!(self.nodes[id as usize].kind, NodeKind::ClassDesc(_)) {
                    return Err(self.wrong_kind(off, id, "class descriptor"));
                }
                Ok(Some(id))
            }
            found => Err(self.fail_at(
                ErrorKind::UnexpectedTypeCode {
                    expected: "a class descriptor",
                    found,
                },
                off,
            )),
        }
    }

    /// A class descriptor that instances are about to use: present and complete.
    pub(super) fn instance_desc(&mut self) -> Res<NodeId> {
        let off = self.cur.pos;
        let Some(id) = self.class_desc()? else {
            return Err(self.fail_at(
                ErrorKind::UnexpectedTypeCode {
                    expected: "a class descriptor",
                    found: tc::NULL,
                },
                off,
            ));
        };
        if self.incomplete.contains(&id) {
            return Err(self.fail_at(
                ErrorKind::IncompleteClassDesc {
                    class: self.class_name(id),
                },
                off,
            ));
        }
        Ok(id)
    }

    pub(super) fn new_class_desc(&mut self) -> Res<NodeId> {
        // The body read so far is in the node, visible to references made from the
        // annotation and the superclass; the descriptor stays incomplete until both are read.
        let id = self.class_desc_head()?;
        self.incomplete.push(id);
        self.path.push(PathSeg::ClassAnnotation(id));
        let annotation = self.annotation()?;
        self.path.pop();
        self.path.push(PathSeg::Super(id));
        let super_off = self.cur.pos;
        let super_desc = self.class_desc()?;
        self.path.pop();
        if let Some(sup) = super_desc
            && self.incomplete.contains(&sup)
        {
            return Err(self.fail_at(
                ErrorKind::ClassCycle {
                    class: self.class_name(id),
                },
                super_off,
            ));
        }
        self.incomplete.pop();
        let node = &mut self.nodes[id as usize];
        if let NodeKind::ClassDesc(d) = &mut node.kind {
            d.annotation = annotation;
            d.super_desc = super_desc;
        }
        node.span.len = self.cur.pos - node.span.start;
        Ok(id)
    }

    /// A class descriptor up to its class annotation: type code, handle, name, UID,
    /// flags and fields (or a proxy's interfaces), stored in a new node.
    pub(super) fn class_desc_head(&mut self) -> Res<NodeId> {
        let start = self.cur.pos;
        let code = self.u8("class descriptor")?;
        let placeholder = NodeKind::Class { desc: 0 };
        let id = self.push_node(placeholder, start)?;
        let mut desc = ClassDesc {
            name: JStr(Box::default()),
            uid: 0,
            flags: flags::SERIALIZABLE,
            fields: Vec::new(),
            annotation: Vec::new(),
            super_desc: None,
            proxy_interfaces: None,
        };
        if code == tc::PROXYCLASSDESC {
            self.assign_handle(id)?;
            let count_off = self.cur.pos;
            let n = self.i32("proxy interface count")?;
            if n < 0 {
                return Err(self.fail_at(
                    ErrorKind::NegativeLength {
                        what: "proxy interface count",
                        len: n as i64,
                    },
                    count_off,
                ));
            }
            if n as u64 * 2 > self.cur.remaining() {
                return Err(self.fail(ErrorKind::Truncated {
                    what: "proxy interfaces",
                    need: n as u64 * 2,
                    have: self.cur.remaining(),
                }));
            }
            let mut names = Vec::new();
            for _ in 0..n {
                names.push(self.utf("proxy interface name")?);
            }
            desc.proxy_interfaces = Some(names);
        } else {
            desc.name = self.utf("class name")?;
            desc.uid = self.i64("serialVersionUID")?;
            self.assign_handle(id)?;
            let flags_off = self.cur.pos;
            desc.flags = self.u8("class flags")?;
            let f = desc.flags;
            if f & flags::SERIALIZABLE != 0 && f & flags::EXTERNALIZABLE != 0 {
                return Err(self.fail_at(
                    ErrorKind::BadFlags {
                        class: desc.name.lossy(),
                        flags: f,
                    },
                    flags_off,
                ));
            }
            let n = self.u16("field count")?;
            // A linear scan for duplicates is quadratic; past a few fields use a set.
            let mut seen: Option<HashSet<JStr>> = (n > 16).then(HashSet::new);
            for _ in 0..n {
                let field_off = self.cur.pos;
                let typecode = self.u8("field type code")?;
                let fname = self.utf("field name")?;
                if !b"BCDFIJSZL[".contains(&typecode) {
                    return Err(self.fail_at(
                        ErrorKind::BadFieldType {
                            class: desc.name.lossy(),
                            field: fname.lossy(),
                            typecode,
                        },
                        field_off,
                    ));
                }
                let duplicate = match &mut seen {
                    Some(set) => !set.insert(fname.clone()),
                    None => desc.fields.iter().any(|x| x.name == fname),
                };
                if duplicate {
                    return Err(self.fail_at(
                        ErrorKind::DuplicateField {
                            class: desc.name.lossy(),
                            field: fname.lossy(),
                        },
                        field_off,
                    ));
                }
                let type_name = if typecode == b'L' || typecode == b'[' {
                    Some(self.type_string()?)
                } else {
                    None
                };
                self.charge(std::mem::size_of::<FieldDesc>(), field_off)?;
                desc.fields.push(FieldDesc {
                    typecode,
                    name: fname,
                    type_name,
                });
            }
        }
        self.nodes[id as usize].kind = NodeKind::ClassDesc(desc);
        Ok(id)
    }

    /// A field's type signature: a String object, new or referenced.
    pub(super) fn type_string(&mut self) -> Res<NodeId> {
        let off = self.cur.pos;
        match self.peek("field type")? {
            tc::STRING | tc::LONGSTRING => self.new_string(),
            tc::REFERENCE => {
                let id = self.reference()?;
                match self.nodes[id as usize].kind {
                    NodeKind::String(_) => Ok(id),
                    _ => Err(self.wrong_kind(off, id, "string")),
                }
            }
            found => Err(self.fail_at(
                ErrorKind::UnexpectedTypeCode {
                    expected: "a field type string",
                    found,
                },
                off,
            )),
        }
    }
}
