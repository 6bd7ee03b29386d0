//! A small deterministic PRNG (SplitMix64), for the synthetic savepoint generator and for
//! seeded tests: a fixed seed gives the same sequence everywhere, with no dependency.
//! Every part of a synthetic savepoint draws from its own stream ([`Prng::derive`]), so
//! what one part gets does not depend on the order in which the parts are written.

pub struct Prng(u64);

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Prng {
    pub fn new(seed: u64) -> Prng {
        Prng(seed)
    }

    /// The stream of the part at `path` (e.g. `[TAG, vertex, subtask]`).
    pub fn derive(seed: u64, path: &[u64]) -> Prng {
        let mut s = mix(seed ^ GAMMA);
        for &p in path {
            s = mix(s ^ mix(p.wrapping_add(GAMMA)));
        }
        Prng(s)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Uniform in `[0, n)` (n > 0; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let v = self.next_u64().to_le_bytes();
            rest.copy_from_slice(&v[..rest.len()]);
        }
    }

    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        b
    }

    /// A random (version 4) UUID in its text form, like `UUID.randomUUID().toString()`.
    pub fn uuid(&mut self) -> String {
        let mut b = self.bytes16();
        b[6] = (b[6] & 0x0F) | 0x40;
        b[8] = (b[8] & 0x3F) | 0x80;
        let h = hex(&b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

pub use crate::ids::hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| Prng::derive(7, &[1, 2]).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Prng::derive(7, &[1, 2]).next_u64(),
            Prng::derive(7, &[2, 1]).next_u64()
        );
        assert_ne!(
            Prng::derive(7, &[1]).next_u64(),
            Prng::derive(8, &[1]).next_u64()
        );
        // SplitMix64's published first output for seed 0.
        assert_eq!(Prng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn uuid_has_the_version_4_shape() {
        let u = Prng::new(1).uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        let mut buf = [0u8; 13];
        Prng::new(3).fill(&mut buf);
        assert!(buf.iter().any(|&b| b != 0));
    }
}
