//! Case-blind search for many short anchors, 64 bytes at a time, with AVX-512 VBMI.
//!
//! Why: Teddy (aho-corasick's SIMD searcher) looks each byte up by its two nibbles in
//! 16-entry tables (`pshufb`). A nibble table cannot tell `A` (0x41) from `Q` (0x51) without
//! also mixing up case, so the prefilter had to lowercase every chunk into a copy before
//! searching it, and Fat Teddy moves 16 bytes per step. VBMI's `vpermi2b` looks a byte up in
//! a 128-entry table in one instruction, so a table can say directly, for each byte value,
//! which anchors have that byte (in either case) at a given position: no copy, no nibble
//! cross-products, 64 bytes per step. On the 1 GiB bench log this is the only pass over
//! every byte; the line walk takes its newlines from the same 64-byte steps ([`Newlines`]).
//!
//! How: anchors (1 to [`WIDTH`] bytes) are put in 16 buckets. For each position `k` of an
//! anchor there are two tables (buckets 0–7 and 8–15): entry `c` has bucket `b`'s bit set
//! when an anchor of `b` has `c` (either case) at `k`, or is shorter than `k + 1`. Looking up
//! bytes `i..i+64`, `i+1..i+65`, … in the tables of positions 0, 1, … and AND-ing the
//! results leaves, per byte, the buckets whose anchors may start there. Each such place is
//! then compared with the bucket's anchors, ignoring ASCII case. The lookup ignores a byte's
//! top bit, so non-ASCII bytes may pass the tables; the comparison turns them away.
//!
//! Only built where the CPU has AVX-512 VBMI (Intel since Ice Lake, AMD since Zen 4);
//! elsewhere the prefilter keeps lowercasing and Teddy.

/// The longest anchor, in bytes.
pub const WIDTH: usize = 4;

/// Buckets, as bits of two table bytes.
const BUCKETS: usize = 16;

/// Bytes looked at per step.
const STEP: usize = 64;

/// A set of short anchors, searched for ignoring ASCII case.
pub struct Anchors {
    /// `tables[k][h][c]`: bit `b` set when an anchor of bucket `8h + b` may have byte `c`
    /// at position `k`.
    tables: [[[u8; 128]; 2]; WIDTH],
    /// Per bucket, the indices of its anchors.
    buckets: [Vec<usize>; BUCKETS],
    /// The anchors, lowercase.
    anchors: Vec<Box<[u8]>>,
}

impl Anchors {
    /// The searcher for `anchors` (each 1 to [`WIDTH`] ASCII bytes), or None where the CPU
    /// cannot run it or an anchor does not fit.
    pub fn new(anchors: &[&[u8]]) -> Option<Anchors> {
        if !cpu_has_vbmi() {
            return None;
        }
        Anchors::build(anchors)
    }

    fn build(anchors: &[&[u8]]) -> Option<Anchors> {
        if anchors.is_empty()
            || anchors
                .iter()
                .any(|a| a.is_empty() || a.len() > WIDTH || !a.is_ascii())
        {
            return None;
        }
        let anchors: Vec<Box<[u8]>> = anchors
            .iter()
            .map(|a| a.to_ascii_lowercase().into())
            .collect();
        let buckets = assign_buckets(&anchors);
        let mut tables = [[[0u8; 128]; 2]; WIDTH];
        for (b, members) in buckets.iter().enumerate() {
            let (half, bit) = (b / 8, 1u8 << (b % 8));
            for &i in members {
                let anchor = &anchors[i];
                for (k, table) in tables.iter_mut().enumerate() {
                    let table = &mut table[half];
                    match anchor.get(k) {
                        Some(c) => {
                            table[usize::from(c.to_ascii_lowercase())] |= bit;
                            table[usize::from(c.to_ascii_uppercase())] |= bit;
                        }
                        // Shorter than this position: any byte will do.
                        None => table.iter_mut().for_each(|e| *e |= bit),
                    }
                }
            }
        }
        Some(Anchors {
            tables,
            buckets,
            anchors,
        })
    }

    /// The first place at or after `from` where an anchor stands in `hay` (ignoring ASCII
    /// case) and `confirm(place, anchor index)` agrees. `confirm` is asked about the anchors
    /// found in order of place, so a caller can check the word around each.
    pub fn find(
        &self,
        hay: &[u8],
        from: usize,
        mut confirm: impl FnMut(usize, usize) -> bool,
    ) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: an `Anchors` exists only where `cpu_has_vbmi` said the CPU has the
            // features `find_vbmi` is compiled for.
            unsafe { self.find_vbmi(hay, from, &mut confirm) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (hay, from, &mut confirm);
            unreachable!("Anchors::new returns None off x86_64")
        }
    }

    /// The places of `\n` in `bytes`, in order: see [`Newlines`].
    pub fn newlines<'a>(&self, bytes: &'a [u8]) -> Newlines<'a> {
        Newlines {
            bytes,
            next_block: 0,
            block: 0,
            mask: 0,
        }
    }

    /// Of the places `base + j` for the bits `j` of `mask`, the first that holds one of the
    /// anchors of the buckets in `lo[j]` / `hi[j]` and that `confirm` agrees to.
    fn confirm_block(
        &self,
        hay: &[u8],
        base: usize,
        mut mask: u64,
        lo: &[u8; STEP],
        hi: &[u8; STEP],
        confirm: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Option<usize> {
        while mask != 0 {
            let j = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let at = base + j;
            let mut buckets = u16::from(lo[j]) | u16::from(hi[j]) << 8;
            while buckets != 0 {
                let b = buckets.trailing_zeros() as usize;
                buckets &= buckets - 1;
                for &i in &self.buckets[b] {
                    let anchor = &self.anchors[i];
                    let here = hay.get(at..at + anchor.len());
                    if here.is_some_and(|h| h.eq_ignore_ascii_case(anchor)) && confirm(at, i) {
                        return Some(at);
                    }
                }
            }
        }
        None
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn find_vbmi(
        &self,
        hay: &[u8],
        from: usize,
        confirm: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Option<usize> {
        use std::arch::x86_64::*;
        // Each 128-entry table as its two halves, for `vpermi2b`.
        let mut t = [[[_mm512_setzero_si512(); 2]; 2]; WIDTH];
        for (k, per_half) in self.tables.iter().enumerate() {
            for (h, table) in per_half.iter().enumerate() {
                for (q, half) in table.chunks_exact(STEP).enumerate() {
                    // SAFETY: `half` is 64 readable bytes; the load is unaligned.
                    t[k][h][q] = unsafe { _mm512_loadu_si512(half.as_ptr().cast()) };
                }
            }
        }
        // Buckets that may start at each of the 64 places from `p`, as two vectors of bits.
        // SAFETY (for callers): `p` must have 64 + WIDTH - 1 readable bytes.
        let step = |p: *const u8| -> (__m512i, __m512i) {
            let mut lo = _mm512_set1_epi8(-1);
            let mut hi = lo;
            for (k, tk) in t.iter().enumerate() {
                // SAFETY: see above.
                let v = unsafe { _mm512_loadu_si512(p.add(k).cast()) };
                lo = _mm512_and_si512(lo, _mm512_permutex2var_epi8(tk[0][0], v, tk[0][1]));
                hi = _mm512_and_si512(hi, _mm512_permutex2var_epi8(tk[1][0], v, tk[1][1]));
            }
            (lo, hi)
        };
        let confirm_at = |base: usize,
                          mask: u64,
                          lo: __m512i,
                          hi: __m512i,
                          confirm: &mut dyn FnMut(usize, usize) -> bool| {
            let (mut l, mut h) = ([0u8; STEP], [0u8; STEP]);
            // SAFETY: each array is 64 writable bytes; the stores are unaligned.
            unsafe {
                _mm512_storeu_si512(l.as_mut_ptr().cast(), lo);
                _mm512_storeu_si512(h.as_mut_ptr().cast(), hi);
            }
            self.confirm_block(hay, base, mask, &l, &h, confirm)
        };
        let mut i = from;
        while i + STEP + WIDTH - 1 <= hay.len() {
            // SAFETY: the loop condition leaves 64 + WIDTH - 1 bytes from `i`.
            let (lo, hi) = step(unsafe { hay.as_ptr().add(i) });
            let any = _mm512_or_si512(lo, hi);
            let mask = _mm512_test_epi8_mask(any, any);
            if mask != 0 {
                if let Some(at) = confirm_at(i, mask, lo, hi, confirm) {
                    return Some(at);
                }
            }
            i += STEP;
        }
        // The tail, copied into zeros: no anchor holds a NUL, so none is found past the end.
        let rest = hay.get(i..).unwrap_or_default();
        let mut padded = [0u8; 2 * STEP + WIDTH - 1];
        padded[..rest.len()].copy_from_slice(rest);
        let mut j = 0;
        while j < rest.len() {
            // SAFETY: rest.len() < 64 + WIDTH - 1, so `j` < 64 and `padded` has
            // 64 + WIDTH - 1 bytes from `j`.
            let (lo, hi) = step(unsafe { padded.as_ptr().add(j) });
            let any = _mm512_or_si512(lo, hi);
            let mut mask = _mm512_test_epi8_mask(any, any);
            if rest.len() - j < STEP {
                mask &= (1u64 << (rest.len() - j)) - 1;
            }
            if mask != 0 {
                if let Some(at) = confirm_at(i + j, mask, lo, hi, confirm) {
                    return Some(at);
                }
            }
            j += STEP;
        }
        None
    }
}

/// The places of `\n` in a chunk, 64 bytes a step. Made only by an [`Anchors`], so only
/// where the CPU has AVX-512; meant to be walked inside code compiled for it
/// (`Prefilter::scan_folded`), where the masks are computed in line.
pub struct Newlines<'a> {
    bytes: &'a [u8],
    /// Where the next block of 64 bytes starts.
    next_block: usize,
    /// Where the block of `mask` starts.
    block: usize,
    /// The newlines of that block not yet handed out.
    mask: u64,
}

impl Iterator for Newlines<'_> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let rest = self
                .bytes
                .get(self.next_block..)
                .filter(|r| !r.is_empty())?;
            self.block = self.next_block;
            self.next_block += STEP;
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: a `Newlines` is made only by an `Anchors`, which exists only where
                // `cpu_has_vbmi` found the features `newline_mask` is compiled for.
                self.mask = unsafe { newline_mask(rest) };
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                let _ = rest;
                unreachable!("Anchors::new returns None off x86_64")
            }
        }
        let j = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.block + j)
    }
}

/// Bit `j` set where byte `j` of the first 64 bytes of `bytes` is `\n`. The load is masked
/// to the bytes there are, so nothing past the slice is read.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn newline_mask(bytes: &[u8]) -> u64 {
    use std::arch::x86_64::*;
    let there = if bytes.len() >= STEP {
        u64::MAX
    } else {
        (1u64 << bytes.len()) - 1
    };
    // SAFETY: the masked-off lanes are not read (AVX-512 suppresses their faults); the
    // others lie within `bytes`.
    let v = unsafe { _mm512_maskz_loadu_epi8(there, bytes.as_ptr().cast()) };
    _mm512_mask_cmpeq_epi8_mask(there, v, _mm512_set1_epi8(b'\n' as i8))
}

/// Whether this CPU can run the VBMI search.
fn cpu_has_vbmi() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Puts anchors in buckets so that a bucket's anchors share bytes where they can: a place
/// passes a bucket's tables when each of its bytes matches *some* anchor of the bucket at
/// that position, so anchors alike in few positions make false candidates of their mixes.
/// Buckets stay within one anchor of equal size.
fn assign_buckets(anchors: &[Box<[u8]>]) -> [Vec<usize>; BUCKETS] {
    let mut buckets: [Vec<usize>; BUCKETS] = Default::default();
    let cap = anchors.len().div_ceil(BUCKETS);
    for (i, anchor) in anchors.iter().enumerate() {
        let shared = |members: &Vec<usize>| -> usize {
            (0..WIDTH)
                .filter(|&k| {
                    members
                        .iter()
                        .any(|&m| anchors[m].get(k).is_some() && anchors[m].get(k) == anchor.get(k))
                })
                .count()
        };
        let best = (0..BUCKETS)
            .filter(|&b| buckets[b].len() < cap)
            .max_by_key(|&b| {
                (
                    shared(&buckets[b]),
                    std::cmp::Reverse(buckets[b].len()),
                    std::cmp::Reverse(b),
                )
            })
            .unwrap_or(0);
        buckets[best].push(i);
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(anchors: &[&[u8]], hay: &[u8], from: usize) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        for at in from..hay.len() {
            for (i, a) in anchors.iter().enumerate() {
                if hay
                    .get(at..at + a.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(a))
                {
                    found.push((at, i));
                }
            }
        }
        found
    }

    fn all(searcher: &Anchors, hay: &[u8], from: usize) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut confirm = |at, i| {
            found.push((at, i));
            false
        };
        assert_eq!(searcher.find(hay, from, &mut confirm), None);
        found.sort();
        found
    }

    #[test]
    fn finds_what_a_byte_by_byte_search_finds() {
        let Some(_) = Anchors::new(&[b"x"]) else {
            eprintln!("skipped: this CPU has no AVX-512 VBMI");
            return;
        };
        let anchors: &[&[u8]] = &[b"gran", b"ode\"", b"jwt", b"\" 5", b"oriz", b"s_to", b"x"];
        let searcher = Anchors::new(anchors).expect("builds");
        let text = b"{\"CODE\": 1} Authorize grant JWT \" 500 \xc3\xa9GRAN s_tO \xefDE\" ode\"";
        for len in 0..text.len() {
            for from in [0, 1, len / 2] {
                let hay = &text[..len];
                assert_eq!(
                    all(&searcher, hay, from),
                    naive(anchors, hay, from),
                    "len {len} from {from}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn newlines_are_where_memchr_finds_them(
            pieces in proptest::collection::vec(
                proptest::sample::select(&["\n", "x", "\n\n", "abcdefghijklmnopqrstuvwxyz0123456789", "\u{e9}", "\r\n"][..]),
                0..120,
            ),
            skip in 0usize..70,
        ) {
            let Some(searcher) = Anchors::new(&[b"x"]) else { return Ok(()); };
            let text = pieces.concat().into_bytes();
            // Slices that start anywhere in a block and end anywhere.
            let hay = &text[skip.min(text.len())..];
            let found: Vec<usize> = searcher.newlines(hay).collect();
            let expected: Vec<usize> = memchr::memchr_iter(b'\n', hay).collect();
            proptest::prop_assert_eq!(found, expected);
        }

        #[test]
        fn agrees_with_a_byte_by_byte_search(
            pieces in proptest::collection::vec(
                proptest::sample::select(&["gran", "GrAn", "ode\"", "jwt", "\" 5", "x", " ", "\n", "o", "de", "\u{e9}", "\u{c1}", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"][..]),
                0..80,
            ),
            from in 0usize..200,
        ) {
            let anchors: &[&[u8]] = &[b"gran", b"ode\"", b"jwt", b"\" 5"];
            let Some(searcher) = Anchors::new(anchors) else { return Ok(()); };
            let hay = pieces.concat().into_bytes();
            let from = from.min(hay.len());
            proptest::prop_assert_eq!(all(&searcher, &hay, from), naive(anchors, &hay, from));
            // The first confirmed place is the first found.
            let first = naive(anchors, &hay, from).first().map(|f| f.0);
            proptest::prop_assert_eq!(searcher.find(&hay, from, |_, _| true), first);
        }
    }
}
