//! A streaming emitter of Java serialization streams built from scratch (the synthetic
//! savepoint generator's back end), with `ObjectOutputStream`'s exact byte semantics for
//! what it supports:
//! - handles numbered from [`BASE_HANDLE`] at the points the JDK assigns them (a class
//!   descriptor before its field-type strings and superclass; an object, array or class
//!   after its descriptor; a string at the string);
//! - a class descriptor written in full once per stream, as `TC_REFERENCE` afterwards
//!   (keyed by class name);
//! - field-type strings shared: the JVM hands `ObjectOutputStream` interned signature
//!   strings, so a second `Lorg/apache/flink/runtime/state/StateHandle;` is a reference;
//! - block data cut into records of at most 1,024 bytes, `77 n` / `7A int` (legacy-formats.md §5.3);
//! - primitive array bodies streamed in pieces after their length, never held whole.
//!
//! Which objects the field values form is the caller's business: the builder writes
//! class data in the order it is given (top-most superclass first, fields in descriptor
//! order, then a `writeObject` annotation ended by [`StreamBuilder::end_annotation`]).
//! Class specs are static data ([`ClassSpec`]), so one table describes every class.

use super::{BASE_HANDLE, ErrorKind, STREAM_MAGIC, STREAM_VERSION, flags, mutf8, tc};
use std::collections::HashMap;
use std::io::{self, Write};

/// The JDK's block-data record limit (`BlockDataOutputStream.MAX_BLOCK_SIZE`).
pub const MAX_BLOCK_SIZE: usize = 1024;

/// A stream handle (`0x7E0000`-based), for `TC_REFERENCE`s to something written earlier.
pub type Handle = u32;

/// One serializable field of a class descriptor.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// `B C D F I J S Z`, or `L` / `[` for references.
    pub typecode: u8,
    pub name: &'static str,
    /// JVM type signature of a reference field (`Ljava/lang/String;`, `[B`); `None` for
    /// primitives.
    pub signature: Option<&'static str>,
}

impl FieldSpec {
    /// A primitive field.
    pub const fn primitive(typecode: u8, name: &'static str) -> FieldSpec {
        FieldSpec {
            typecode,
            name,
            signature: None,
        }
    }

    /// A reference field; the typecode (`L` or `[`) follows from the signature.
    pub const fn reference(name: &'static str, signature: &'static str) -> FieldSpec {
        let typecode = if signature.as_bytes()[0] == b'[' {
            b'['
        } else {
            b'L'
        };
        FieldSpec {
            typecode,
            name,
            signature: Some(signature),
        }
    }
}

/// A class descriptor as it is written: name, UID, flags, fields in stream order (the
/// JDK's: primitives, then references, each sorted by name) and superclass.
#[derive(Debug, PartialEq, Eq)]
pub struct ClassSpec {
    /// Binary name as in the stream (`java.util.HashMap`, `[B`, `[Lpkg.Cls;`).
    pub name: &'static str,
    pub uid: i64,
    pub flags: u8,
    pub fields: &'static [FieldSpec],
    pub superclass: Option<&'static ClassSpec>,
}

impl ClassSpec {
    /// Byte size of one element when this is a primitive array class (`[B` → 1).
    pub fn primitive_element_size(&self) -> Option<u64> {
        let rest = self.name.strip_prefix('[')?;
        match rest.as_bytes() {
            [b'B' | b'Z'] => Some(1),
            [b'C' | b'S'] => Some(2),
            [b'I' | b'F'] => Some(4),
            [b'J' | b'D'] => Some(8),
            _ => None,
        }
    }

    /// Whether the JDK would write the fields in this order: primitives first, then
    /// references, each group sorted by name (`ObjectStreamClass` sorts them so).
    pub fn fields_in_jdk_order(&self) -> bool {
        let key = |f: &FieldSpec| (f.signature.is_some(), f.name);
        self.fields.windows(2).all(|w| key(&w[0]) < key(&w[1]))
    }
}

/// The layer's one error type: the target's name as the source, the absolute offset the
/// stream had reached, and why — `ErrorKind::Io` when writing failed, `ErrorKind::Write`
/// when the caller broke the stream grammar (a bug in the caller, reported, not a panic).
pub type BuildError = super::Error;

pub type BuildResult<T> = Result<T, BuildError>;

/// A Java serialization stream being written to `W`.
pub struct StreamBuilder<W: Write> {
    out: W,
    target: String,
    base: u64,
    /// Bytes handed to `out` so far, header included.
    pos: u64,
    next_handle: Handle,
    descs: HashMap<&'static str, Handle>,
    type_strings: HashMap<&'static str, Handle>,
    /// Block data not yet written as a record (at most [`MAX_BLOCK_SIZE`] bytes).
    block: Vec<u8>,
    /// Body bytes still owed to the primitive array being written.
    array_remaining: u64,
}

/// Superclass chains longer than this are a cycle in the (static) specs.
const MAX_CLASS_DEPTH: usize = 64;

impl<W: Write> StreamBuilder<W> {
    /// Starts a stream: writes `AC ED 00 05`. `target` names the output in errors and
    /// `base` is where the stream starts in it (errors report absolute offsets).
    pub fn new(out: W, target: impl Into<String>, base: u64) -> BuildResult<Self> {
        let mut b = StreamBuilder {
            out,
            target: target.into(),
            base,
            pos: 0,
            next_handle: BASE_HANDLE,
            descs: HashMap::new(),
            type_strings: HashMap::new(),
            block: Vec::with_capacity(MAX_BLOCK_SIZE),
            array_remaining: 0,
        };
        b.raw(&STREAM_MAGIC.to_be_bytes())?;
        b.raw(&STREAM_VERSION.to_be_bytes())?;
        Ok(b)
    }

    /// Bytes written to the output so far (pending block data not included).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Ends the stream: writes pending block data and returns the output. Fails if a
    /// primitive array is still short of body bytes.
    pub fn finish(mut self) -> BuildResult<W> {
        self.token()?;
        Ok(self.out)
    }

    fn error(&self, kind: ErrorKind) -> BuildError {
        BuildError::new(kind, self.base + self.pos, self.target.clone())
    }

    fn misuse(&self, msg: impl Into<String>) -> BuildError {
        self.error(ErrorKind::Write(msg.into()))
    }

    fn raw(&mut self, bytes: &[u8]) -> BuildResult<()> {
        if let Err(e) = self.out.write_all(bytes) {
            return Err(self.error(ErrorKind::Io(e)));
        }
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn assign(&mut self) -> Handle {
        let h = self.next_handle;
        self.next_handle += 1;
        h
    }

    /// Before any non-block item: the array must be complete and pending block data goes
    /// out as a record, as the JDK drains its block buffer.
    fn token(&mut self) -> BuildResult<()> {
        if self.array_remaining != 0 {
            return Err(self.misuse(format!(
                "primitive array still needs {} body bytes",
                self.array_remaining
            )));
        }
        self.flush_block()
    }

    fn flush_block(&mut self) -> BuildResult<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let block = std::mem::take(&mut self.block);
        let n = block.len();
        let result = if n <= 255 {
            self.raw(&[tc::BLOCKDATA, n as u8])
        } else {
            self.raw(&[tc::BLOCKDATALONG])
                .and_then(|_| self.raw(&(n as i32).to_be_bytes()))
        }
        .and_then(|_| self.raw(&block));
        self.block = block;
        self.block.clear();
        result
    }

    /// `writeUTF`: u16 length and modified UTF-8.
    fn utf(&mut self, s: &str) -> BuildResult<()> {
        let bytes = mutf8::encode(s);
        let Ok(n) = u16::try_from(bytes.len()) else {
            return Err(self.misuse(format!(
                "UTF string of {} bytes is longer than 65,535",
                bytes.len()
            )));
        };
        self.raw(&n.to_be_bytes())?;
        self.raw(&bytes)
    }

    /// The handle the next object, string or descriptor gets (for a stream continued by
    /// another writer).
    pub fn next_handle(&self) -> Handle {
        self.next_handle
    }

    /// `TC_NULL`.
    pub fn null(&mut self) -> BuildResult<()> {
        self.token()?;
        self.raw(&[tc::NULL])
    }

    /// `TC_REFERENCE` to something written earlier in this stream.
    pub fn reference(&mut self, handle: Handle) -> BuildResult<()> {
        self.token()?;
        if !(BASE_HANDLE..self.next_handle).contains(&handle) {
            return Err(self.misuse(format!(
                "reference to handle {handle:#x}, which this stream has not assigned"
            )));
        }
        self.raw(&[tc::REFERENCE])?;
        self.raw(&handle.to_be_bytes())
    }

    /// A new String object (`TC_STRING`, or `TC_LONGSTRING` over 65,535 bytes). Strings
    /// that are one Java object must be written once and then referenced by the caller.
    pub fn string(&mut self, s: &str) -> BuildResult<Handle> {
        self.token()?;
        let bytes = mutf8::encode(s);
        let h = self.assign();
        if bytes.len() > u16::MAX as usize {
            self.raw(&[tc::LONGSTRING])?;
            self.raw(&(bytes.len() as u64).to_be_bytes())?;
        } else {
            self.raw(&[tc::STRING])?;
            self.raw(&(bytes.len() as u16).to_be_bytes())?;
        }
        self.raw(&bytes)?;
        Ok(h)
    }

    /// A field-type string: written in full the first time, referenced afterwards.
    fn type_string(&mut self, signature: &'static str) -> BuildResult<()> {
        if let Some(&h) = self.type_strings.get(signature) {
            return self.reference(h);
        }
        let h = self.string(signature)?;
        self.type_strings.insert(signature, h);
        Ok(())
    }

    /// A class descriptor: in full the first time (then its superclass chain), a
    /// reference afterwards. Returns its handle.
    pub fn class_desc(&mut self, spec: &'static ClassSpec) -> BuildResult<Handle> {
        self.class_desc_at(spec, 0)
    }

    fn class_desc_at(&mut self, spec: &'static ClassSpec, depth: usize) -> BuildResult<Handle> {
        if let Some(&h) = self.descs.get(spec.name) {
            self.reference(h)?;
            return Ok(h);
        }
        if depth > MAX_CLASS_DEPTH {
            return Err(self.misuse(format!(
                "class {}: superclass chain deeper than {MAX_CLASS_DEPTH} (a cycle in the specs?)",
                spec.name
            )));
        }
        if spec.flags & flags::SERIALIZABLE == 0 || spec.flags & flags::EXTERNALIZABLE != 0 {
            return Err(self.misuse(format!(
                "class {}: flags {:#04x} are not a plain Serializable class",
                spec.name, spec.flags
            )));
        }
        self.token()?;
        self.raw(&[tc::CLASSDESC])?;
        self.utf(spec.name)?;
        self.raw(&spec.uid.to_be_bytes())?;
        let h = self.assign();
        self.descs.insert(spec.name, h);
        self.raw(&[spec.flags])?;
        let Ok(n) = u16::try_from(spec.fields.len()) else {
            return Err(self.misuse(format!("class {}: too many fields", spec.name)));
        };
        self.raw(&n.to_be_bytes())?;
        for f in spec.fields {
            self.raw(&[f.typecode])?;
            self.utf(f.name)?;
            match (f.typecode, f.signature) {
                (b'L' | b'[', Some(sig)) => self.type_string(sig)?,
                (b'B' | b'C' | b'D' | b'F' | b'I' | b'J' | b'S' | b'Z', None) => {}
                _ => {
                    return Err(self.misuse(format!(
                        "class {}: field {} has typecode {:?} and signature {:?}",
                        spec.name, f.name, f.typecode as char, f.signature
                    )));
                }
            }
        }
        // classAnnotation: the JDK's annotateClass writes nothing.
        self.raw(&[tc::ENDBLOCKDATA])?;
        match spec.superclass {
            Some(sup) => {
                self.class_desc_at(sup, depth + 1)?;
            }
            None => self.raw(&[tc::NULL])?,
        }
        Ok(h)
    }

    /// `TC_OBJECT`, its class descriptor and handle. The caller then writes the class
    /// data: for each class from the top-most superclass down, its field values (the
    /// `field_*` methods and nested objects) and, for a `writeObject` class, the
    /// annotation closed by [`end_annotation`](Self::end_annotation).
    pub fn begin_object(&mut self, spec: &'static ClassSpec) -> BuildResult<Handle> {
        self.token()?;
        self.raw(&[tc::OBJECT])?;
        self.class_desc(spec)?;
        Ok(self.assign())
    }

    /// `TC_CLASS`: a `java.lang.Class` object (e.g. `TupleSerializerBase.tupleClass`).
    pub fn class_object(&mut self, spec: &'static ClassSpec) -> BuildResult<Handle> {
        self.token()?;
        self.raw(&[tc::CLASS])?;
        self.class_desc(spec)?;
        Ok(self.assign())
    }

    /// `TC_ENUM`: an enum constant of class `spec` (flags `SERIALIZABLE | ENUM`), named
    /// by a new String.
    pub fn enum_constant(&mut self, spec: &'static ClassSpec, name: &str) -> BuildResult<Handle> {
        if spec.flags & flags::ENUM == 0 {
            return Err(self.misuse(format!("{} is not an enum class", spec.name)));
        }
        self.token()?;
        self.raw(&[tc::ENUM])?;
        self.class_desc(spec)?;
        let h = self.assign();
        self.string(name)?;
        Ok(h)
    }

    /// `TC_ARRAY` of objects: the caller then writes exactly `len` elements.
    pub fn begin_object_array(
        &mut self,
        spec: &'static ClassSpec,
        len: i32,
    ) -> BuildResult<Handle> {
        if !spec.name.starts_with("[L") && !spec.name.starts_with("[[") {
            return Err(self.misuse(format!("{} is not an object array class", spec.name)));
        }
        self.token()?;
        self.raw(&[tc::ARRAY])?;
        self.class_desc(spec)?;
        let h = self.assign();
        self.raw(&len.to_be_bytes())?;
        Ok(h)
    }

    /// `TC_ARRAY` of primitives with `count` elements; the body (count × element size
    /// bytes, big-endian elements) follows through [`array_body`](Self::array_body).
    pub fn begin_primitive_array(
        &mut self,
        spec: &'static ClassSpec,
        count: u32,
    ) -> BuildResult<Handle> {
        let Some(size) = spec.primitive_element_size() else {
            return Err(self.misuse(format!("{} is not a primitive array class", spec.name)));
        };
        let Ok(len) = i32::try_from(count) else {
            return Err(self.misuse(format!(
                "array of {count} elements is longer than a Java array can be"
            )));
        };
        self.token()?;
        self.raw(&[tc::ARRAY])?;
        self.class_desc(spec)?;
        let h = self.assign();
        self.raw(&len.to_be_bytes())?;
        self.array_remaining = count as u64 * size;
        Ok(h)
    }

    /// The next piece of the open primitive array's body.
    pub fn array_body(&mut self, bytes: &[u8]) -> BuildResult<()> {
        if bytes.len() as u64 > self.array_remaining {
            return Err(self.misuse(format!(
                "{} body bytes given where the array needs {} more",
                bytes.len(),
                self.array_remaining
            )));
        }
        self.raw(bytes)?;
        self.array_remaining -= bytes.len() as u64;
        Ok(())
    }

    /// A whole primitive array at once (small arrays).
    pub fn primitive_array(
        &mut self,
        spec: &'static ClassSpec,
        body: &[u8],
    ) -> BuildResult<Handle> {
        let size = spec.primitive_element_size().unwrap_or(1);
        if !(body.len() as u64).is_multiple_of(size) {
            return Err(self.misuse(format!(
                "{} body of {} bytes is not a whole number of elements",
                spec.name,
                body.len()
            )));
        }
        let count = u32::try_from(body.len() as u64 / size)
            .map_err(|_| self.misuse("array longer than a Java array can be"))?;
        let h = self.begin_primitive_array(spec, count)?;
        self.array_body(body)?;
        Ok(h)
    }

    /// A primitive field value written by `defaultWriteObject` (outside block data).
    pub fn field_bytes(&mut self, bytes: &[u8]) -> BuildResult<()> {
        self.token()?;
        self.raw(bytes)
    }

    pub fn field_int(&mut self, v: i32) -> BuildResult<()> {
        self.field_bytes(&v.to_be_bytes())
    }

    pub fn field_long(&mut self, v: i64) -> BuildResult<()> {
        self.field_bytes(&v.to_be_bytes())
    }

    pub fn field_float(&mut self, v: f32) -> BuildResult<()> {
        self.field_bytes(&v.to_bits().to_be_bytes())
    }

    pub fn field_boolean(&mut self, v: bool) -> BuildResult<()> {
        self.field_bytes(&[v as u8])
    }

    /// Bytes written in block-data mode (`writeInt` & co. inside `writeObject`, or at the
    /// top level of the stream), cut into records as the JDK cuts them.
    pub fn block_bytes(&mut self, mut bytes: &[u8]) -> BuildResult<()> {
        if self.array_remaining != 0 {
            return Err(self.misuse("block data inside an unfinished primitive array"));
        }
        while !bytes.is_empty() {
            if self.block.len() == MAX_BLOCK_SIZE {
                self.flush_block()?;
            }
            let n = bytes.len().min(MAX_BLOCK_SIZE - self.block.len());
            self.block.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        Ok(())
    }

    pub fn block_int(&mut self, v: i32) -> BuildResult<()> {
        self.block_bytes(&v.to_be_bytes())
    }

    pub fn block_long(&mut self, v: i64) -> BuildResult<()> {
        self.block_bytes(&v.to_be_bytes())
    }

    pub fn block_boolean(&mut self, v: bool) -> BuildResult<()> {
        self.block_bytes(&[v as u8])
    }

    /// Ends a `writeObject` annotation: pending block data, then `TC_ENDBLOCKDATA`.
    pub fn end_annotation(&mut self) -> BuildResult<()> {
        self.token()?;
        self.raw(&[tc::ENDBLOCKDATA])
    }
}

/// Adapts a builder's open primitive array to [`Write`], so that a nested stream (a
/// `byte[]` that is itself a Java stream) can be written straight into its body.
pub struct ArrayBodyWriter<'a, W: Write>(pub &'a mut StreamBuilder<W>);

impl<W: Write> Write for ArrayBodyWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.array_body(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts what goes through it; with [`io::sink`] it measures a stream without storing it.
pub struct CountingWriter<W: Write> {
    pub inner: W,
    pub count: u64,
}

impl<W: Write> CountingWriter<W> {
    pub fn new(inner: W) -> Self {
        CountingWriter { inner, count: 0 }
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
