//! savepointfs: Flink 1.1 savepoints, served lazily in Flink 1.2 form.
//!
//! Layers, each knowing only the one below:
//! [`source`] (positional byte sources) → [`javaser`] (Java Object Serialization) →
//! Flink 1.1 model → conversion → Flink 1.2 model → virtual tree → FUSE adapter / CLI.

pub(crate) mod classnames;
pub mod convert;
pub mod fuse;
pub mod ids;
pub mod javaser;
pub mod keygroup;
pub mod modern;
pub mod prng;
pub(crate) mod scan;
pub mod size;
pub mod source;
pub mod stream;
pub mod synth;
pub mod text;
pub mod tree;
pub mod v0;
pub mod v1;
pub mod view;
