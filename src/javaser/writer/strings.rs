//! Strings: data strings are written as parsed; field-type strings may be renamed
//! (legacy-formats.md §3.8), and one string node cannot be both renamed type and data.

use super::{Res, Writer};
use crate::javaser::model::*;
use crate::javaser::tc;

impl Writer<'_> {
    /// A string in a field-type (`type_name`) or enum-constant position.
    pub(super) fn string_at(&mut self, id: NodeId, type_name: bool) -> Res<()> {
        let NodeKind::String(s) = &self.node(id)?.kind else {
            return Err(self.write_error(format!(
                "node {id} is a {} where a string is expected",
                self.node(id)?.kind.label()
            )));
        };
        let renamed = match (type_name, self.opts.renamer, s) {
            (true, Some(r), JString::Short(text)) => r.type_string(text.bytes()),
            _ => None,
        };
        if renamed.is_some() {
            if self.renamable_values.contains(&id) {
                return Err(self.write_error(format!(
                    "string {:?} is both data and a field type; renaming the type would change the data",
                    self.graph.string(id).unwrap_or_default()
                )));
            }
            self.renamed_types.insert(id);
        }
        if let Some(&h) = self.handles.get(&id) {
            self.reference(h);
            return Ok(());
        }
        self.string(id, s, renamed)
    }

    /// Records a string used as data; fails if it was already written renamed.
    pub(super) fn note_string_value(&mut self, id: NodeId) -> Res<()> {
        let Some(renamer) = self.opts.renamer else {
            return Ok(());
        };
        if let NodeKind::String(JString::Short(text)) = &self.node(id)?.kind
            && renamer.type_string(text.bytes()).is_some()
        {
            if self.renamed_types.contains(&id) {
                return Err(self.write_error(format!(
                    "string {:?} is both a renamed field type and data",
                    text.lossy()
                )));
            }
            self.renamable_values.insert(id);
        }
        Ok(())
    }

    /// A string in full. A renamed type string too long for TC_STRING becomes a
    /// TC_LONGSTRING, as `ObjectOutputStream` writes any string over 65,535 bytes.
    pub(super) fn string(&mut self, id: NodeId, s: &JString, renamed: Option<Vec<u8>>) -> Res<()> {
        let outer = self.begin(id)?;
        match (s, renamed) {
            (_, Some(text)) if text.len() > u16::MAX as usize => {
                self.u8(tc::LONGSTRING);
                self.assign(id)?;
                self.out.bytes(&(text.len() as u64).to_be_bytes());
                self.out.bytes(&text);
            }
            (_, Some(text)) => {
                self.u8(tc::STRING);
                self.assign(id)?;
                self.utf(&text, "string")?;
            }
            (JString::Short(text), None) => {
                self.u8(tc::STRING);
                self.assign(id)?;
                self.utf(text.bytes(), "string")?;
            }
            (JString::Long(span), None) => {
                self.u8(tc::LONGSTRING);
                self.assign(id)?;
                self.out.bytes(&span.len.to_be_bytes());
                self.payload(*span)?;
            }
        }
        self.end(id, outer);
        Ok(())
    }
}
