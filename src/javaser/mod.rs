//! Java Object Serialization (protocol version 2), read into an offset-based graph and
//! written back as chunks.
//!
//! The reader never copies primitive arrays, block data or long strings: they are
//! [`Span`](crate::source::Span)s of the source. Class names, field names and short
//! strings are small and needed constantly, so they are owned.
//!
//! Hostile input is expected: every length is checked against the bytes that remain
//! before anything is allocated, nesting depth and node counts are bounded ([`Limits`]),
//! and reference cycles are legal and never followed blindly.

mod access;
pub mod builder;
mod error;
mod model;
pub(crate) mod mutf8;
mod reader;
pub mod render;
mod writer;

pub use access::{AnnotationReader, ObjectView};
pub use error::{Error, ErrorKind, Result};
pub use model::*;
pub use reader::{
    DEFAULT_MAX_BYTES, Limits, Next, parse_first_object, parse_interleaved, parse_stream,
    set_default_max_bytes,
};
pub use writer::{
    Chunk, Chunks, DEFAULT_INLINE_MAX, Renamer, WriteOptions, write_object,
    write_object_continuing, write_objects_continuing, write_stream,
};

/// Stream header: `AC ED 00 05`.
pub const STREAM_MAGIC: u16 = 0xACED;
pub const STREAM_VERSION: u16 = 5;
/// The first handle number of a stream (and after every TC_RESET).
pub const BASE_HANDLE: u32 = 0x7E_0000;

pub mod tc {
    //! Type codes of the stream grammar.
    pub const NULL: u8 = 0x70;
    pub const REFERENCE: u8 = 0x71;
    pub const CLASSDESC: u8 = 0x72;
    pub const OBJECT: u8 = 0x73;
    pub const STRING: u8 = 0x74;
    pub const ARRAY: u8 = 0x75;
    pub const CLASS: u8 = 0x76;
    pub const BLOCKDATA: u8 = 0x77;
    pub const ENDBLOCKDATA: u8 = 0x78;
    pub const RESET: u8 = 0x79;
    pub const BLOCKDATALONG: u8 = 0x7A;
    pub const EXCEPTION: u8 = 0x7B;
    pub const LONGSTRING: u8 = 0x7C;
    pub const PROXYCLASSDESC: u8 = 0x7D;
    pub const ENUM: u8 = 0x7E;
}

pub mod flags {
    //! Class descriptor flags.
    pub const WRITE_METHOD: u8 = 0x01;
    pub const SERIALIZABLE: u8 = 0x02;
    pub const EXTERNALIZABLE: u8 = 0x04;
    pub const BLOCK_DATA: u8 = 0x08;
    pub const ENUM: u8 = 0x10;
}
