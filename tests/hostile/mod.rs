//! Support for the hostile-input tests: per-thread allocation accounting (a counting
//! global allocator), a stack-depth probe, a tiny deterministic PRNG, and a builder for
//! hand-assembled streams, including every shape in which the grammar nests.
#![allow(dead_code)]

pub mod walk;

use savepointfs::javaser;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

// ---------------------------------------------------------------------------
// Allocation accounting

struct CountingAlloc;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<u64> = const { Cell::new(0) };
}

fn grew(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + n;
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
    let _ = TOTAL.try_with(|t| t.set(t.get() + n as u64));
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// What a closure allocated on this thread: the peak of live bytes above the level at
/// the start, and the sum of all allocations.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub peak: usize,
    pub total: u64,
}

pub fn measured<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let total0 = TOTAL.with(Cell::get);
    let r = f();
    let usage = Usage {
        peak: PEAK.with(Cell::get) - base,
        total: TOTAL.with(Cell::get) - total0,
    };
    (r, usage)
}

pub const MIB: usize = 1 << 20;

/// A deterministic generator, so every failure is reproducible from its seed.
pub use savepointfs::prng::Prng as SplitMix;

// ---------------------------------------------------------------------------
// Hand-assembled streams

pub const OBJECT_ARRAY: &str = "[Ljava.lang.Object;";
pub const H: u32 = javaser::BASE_HANDLE;

/// Stream bytes assembled by hand; `at()` gives the offsets the assertions use.
pub struct Stream(pub Vec<u8>);

impl Stream {
    pub fn new() -> Self {
        Stream(vec![0xAC, 0xED, 0x00, 0x05])
    }
    pub fn at(&self) -> u64 {
        self.0.len() as u64
    }
    pub fn u8(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn utf(&mut self, s: &str) -> &mut Self {
        self.u16(s.len() as u16);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    pub fn reference(&mut self, handle: u32) -> &mut Self {
        self.u8(0x71).i32(handle as i32)
    }
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.u8(0x74).utf(s)
    }
    /// TC_CLASSDESC with primitive fields only, up to its (empty) class annotation;
    /// the superclass comes next. Takes one handle.
    pub fn desc(&mut self, name: &str, flags: u8, fields: &[(u8, &str)]) -> &mut Self {
        self.u8(0x72).utf(name).i64(0x1234).u8(flags);
        self.u16(fields.len() as u16);
        for (t, n) in fields {
            self.u8(*t).utf(n);
        }
        self.u8(0x78)
    }
    /// A class with one object field `name` of JVM type `ty`: takes two handles
    /// (descriptor, then the type string).
    pub fn desc_with_object_field(
        &mut self,
        name: &str,
        flags: u8,
        field: &str,
        ty: &str,
    ) -> &mut Self {
        self.u8(0x72).utf(name).i64(0x1234).u8(flags).u16(1);
        self.u8(b'L').utf(field).string(ty).u8(0x78)
    }
}

pub const SER: u8 = 0x02;
pub const SER_WRITE: u8 = 0x03;

/// The shapes in which the grammar nests, each `levels` deep, with the offset where
/// the default depth limit (512) must stop it.
#[derive(Clone, Copy, Debug)]
pub enum Nesting {
    /// `Object[]` holding `Object[]` holding ...: one depth unit per level.
    ObjectArrays,
    /// An object whose field holds the next object: one unit per level.
    ObjectFields,
    /// A `writeObject` class whose annotation holds the next object: two units.
    ObjectAnnotations,
    /// A class descriptor whose superclass is written inline: one unit per level,
    /// plus its class annotation.
    Superclasses,
    /// A class descriptor whose class annotation holds an object of a new class: three.
    ClassAnnotations,
}

pub const SHAPES: [Nesting; 5] = [
    Nesting::ObjectArrays,
    Nesting::ObjectFields,
    Nesting::ObjectAnnotations,
    Nesting::Superclasses,
    Nesting::ClassAnnotations,
];

pub fn nested(shape: Nesting, levels: usize) -> (Vec<u8>, u64) {
    let mut s = Stream::new();
    // The offset at which each level enters the depth that matters for the limit.
    let mut marks = Vec::with_capacity(levels);
    let fail_level = match shape {
        Nesting::ObjectArrays => {
            for i in 0..levels {
                marks.push(s.at());
                s.u8(0x75);
                if i == 0 {
                    s.desc(OBJECT_ARRAY, SER, &[]).u8(0x70);
                } else {
                    s.reference(H);
                }
                s.i32(1);
            }
            marks.push(s.at());
            s.u8(0x70);
            512 // array i is at depth i + 1, and so is the innermost null at i = levels
        }
        Nesting::ObjectFields => {
            for i in 0..levels {
                marks.push(s.at());
                s.u8(0x73);
                if i == 0 {
                    s.desc_with_object_field("N", SER, "next", "LN;").u8(0x70);
                } else {
                    s.reference(H);
                }
            }
            marks.push(s.at());
            s.u8(0x70);
            512 // likewise
        }
        Nesting::ObjectAnnotations => {
            for i in 0..levels {
                marks.push(s.at());
                s.u8(0x73);
                if i == 0 {
                    s.desc("W", SER_WRITE, &[]).u8(0x70);
                } else {
                    s.reference(H);
                }
            }
            s.0.extend(std::iter::repeat_n(0x78, levels));
            256 // object i at depth 2i + 1, its annotation at 2i + 2
        }
        Nesting::Superclasses => {
            s.u8(0x73);
            for _ in 0..levels {
                s.u8(0x72).utf("C").i64(1).u8(SER).u16(0);
                marks.push(s.at());
                s.u8(0x78);
            }
            s.u8(0x70);
            510 // descriptor i at depth i + 2, its class annotation at i + 3
        }
        Nesting::ClassAnnotations => {
            for _ in 0..levels {
                s.u8(0x73).u8(0x72).utf("A").i64(1).u8(SER).u16(0);
                marks.push(s.at());
            }
            for _ in 0..levels {
                s.u8(0x78).u8(0x70);
            }
            170 // object i at depth 3i + 1, its class annotation at 3i + 3
        }
    };
    let fail_at = marks.get(fail_level).copied().unwrap_or(u64::MAX);
    (s.0, fail_at)
}

// ---------------------------------------------------------------------------
// Stack use

/// Runs `f` on a fresh thread and reports how many bytes of stack it used, by painting
/// the unused stack below the caller with a pattern and finding the lowest overwrite.
pub fn stack_used(f: impl FnOnce() + Send + 'static) -> usize {
    const STACK: usize = 32 * MIB;
    const PAINT: usize = 24 * MIB;
    const PATTERN: u64 = 0xA5C3_5A3C_A5C3_5A3C;
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let marker = 0u8;
            let top = std::hint::black_box(&marker) as *const u8 as usize;
            let low = (top - PAINT) & !7;
            let high = (top - 64 * 1024) & !7;
            // SAFETY: [low, high) lies inside this thread's 32 MiB stack, below every
            // live frame; nothing else uses it until `f` grows into it.
            unsafe {
                let mut p = low;
                while p < high {
                    std::ptr::write_volatile(p as *mut u64, PATTERN);
                    p += 8;
                }
            }
            f();
            let mut p = low;
            // SAFETY: the same stack range, read after `f` returned.
            while p < high && unsafe { std::ptr::read_volatile(p as *const u64) } == PATTERN {
                p += 8;
            }
            top - p
        })
        .expect("spawn")
        .join()
        .expect("measured closure panicked")
}
