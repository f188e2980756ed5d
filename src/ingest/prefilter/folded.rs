//! Case-blind search for many short anchors, 64 bytes at a time, with AVX-512 VBMI.
//!
//! Why: Teddy (aho-corasick's SIMD searcher) looks each byte up by its two nibbles in
//! 16-entry tables (`pshufb`). A nibble table cannot tell `A` (0x41) from `Q` (0x51) without
//! also mixing up case, so the prefilter had to lowercase every chunk into a copy before
//! searching it, and Fat Teddy moves 16 bytes per step. VBMI's `vpermb` looks 64 bytes up
//! in a 64-entry table in one instruction, so a table can say directly, for each byte value,
//! which anchors have that byte (in either case) at a given position: no copy, no nibble
//! cross-products, 64 bytes per step. On the 1 GiB bench log this is the only pass over
//! every byte; the line walk takes its newlines from the same 64-byte steps ([`Newlines`]).
//!
//! How: anchors (1 to [`WIDTH`] bytes) are put in 16 buckets. For each position `k` of an
//! anchor there are two tables (buckets 0–7 and 8–15): entry `c` has bucket `b`'s bit set
//! when an anchor of `b` has a byte (either case) whose low six bits are `c` at `k`, or is
//! shorter than `k + 1`. Looking up bytes `i..i+64`, `i+1..i+65`, … in the tables of
//! positions 0, 1, … and AND-ing the results leaves, per byte, the buckets whose anchors
//! may start there. Each such place is then compared with the bucket's anchors, ignoring
//! ASCII case.
//!
//! A table entry stands for the four bytes that differ only in their top two bits: `o`
//! (0x6f) for `/` (0x2f), `r` for `2`, `R` for a control byte, `é`'s bytes for ASCII ones.
//! Such a byte passes the tables where its alias would, and the comparison turns it away;
//! four positions must pass at once, so it seldom gets that far. A 128-entry table
//! (`vpermi2b`, two sources) would tell all ASCII bytes apart, but it takes three
//! micro-operations and two cycles per lookup on these cores where `vpermb` takes one, and
//! the lookups were the scan's bound. With `vpermb` and the buckets of [`assign_buckets`],
//! one thread scans a 1 MiB chunk in cache at 4.5–6.5 GB/s with the access-log words (3.6
//! before) and 5.7–6.0 GB/s with the application-log words (2.3–2.5 before), and 256 MB
//! read from memory at 3.2–3.9 GB/s (2.6) and 3.0–3.5 GB/s (2.0).
//!
//! Only built where the CPU has AVX-512 VBMI (Intel since Ice Lake, AMD since Zen 4);
//! elsewhere the prefilter keeps lowercasing and Teddy.

/// The longest anchor, in bytes.
pub const WIDTH: usize = 4;

// A `Packed` anchor is one `u32`.
const _: () = assert!(WIDTH == 4);

/// Buckets, as bits of two table bytes.
const BUCKETS: usize = 16;

/// Bytes looked at per step.
const STEP: usize = 64;

/// Entries of a table: a byte is looked up by its low six bits.
const TABLE: usize = 64;

/// A set of short anchors, searched for ignoring ASCII case.
pub struct Anchors {
    /// `tables[k][h][c]`: bit `b` set when an anchor of bucket `8h + b` may have a byte
    /// whose low six bits are `c` at position `k`.
    tables: [[[u8; TABLE]; 2]; WIDTH],
    /// Per bucket, its anchors.
    buckets: [Vec<Packed>; BUCKETS],
}

/// An anchor as four bytes to compare with the four at a place, in one step.
#[derive(Clone, Copy)]
struct Packed {
    /// The anchor, lowercase, little-endian, zeros past its end.
    lower: u32,
    /// `0x20` in each byte that is a letter: OR-ed into the text, it lowercases just the
    /// letters (an ASCII letter's two cases differ only in that bit).
    fold: u32,
    /// `0xff` in each byte the anchor has.
    care: u32,
    /// The anchor's index, as given to [`Anchors::new`].
    index: usize,
}

impl Packed {
    fn new(anchor: &[u8], index: usize) -> Packed {
        let (mut lower, mut fold, mut care) = ([0u8; 4], [0u8; 4], [0u8; 4]);
        for (k, &c) in anchor.iter().enumerate().take(WIDTH) {
            lower[k] = c.to_ascii_lowercase();
            fold[k] = if c.is_ascii_alphabetic() { 0x20 } else { 0 };
            care[k] = 0xff;
        }
        Packed {
            lower: u32::from_le_bytes(lower),
            fold: u32::from_le_bytes(fold),
            care: u32::from_le_bytes(care),
            index,
        }
    }

    /// Whether `text` (the four bytes at a place, zeros past the end of the text) starts
    /// with the anchor, ignoring ASCII case.
    #[inline]
    fn is_at(&self, text: u32) -> bool {
        (text | self.fold) & self.care == self.lower
    }
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
        let mut tables = [[[0u8; TABLE]; 2]; WIDTH];
        for (b, members) in buckets.iter().enumerate() {
            let (half, bit) = (b / 8, 1u8 << (b % 8));
            for &i in members {
                let anchor = &anchors[i];
                for (k, table) in tables.iter_mut().enumerate() {
                    let table = &mut table[half];
                    match anchor.get(k) {
                        Some(c) => {
                            table[usize::from(c.to_ascii_lowercase()) % TABLE] |= bit;
                            table[usize::from(c.to_ascii_uppercase()) % TABLE] |= bit;
                        }
                        // Shorter than this position: any byte will do.
                        None => table.iter_mut().for_each(|e| *e |= bit),
                    }
                }
            }
        }
        let buckets = buckets.map(|members| {
            members
                .into_iter()
                .map(|i| Packed::new(&anchors[i], i))
                .collect()
        });
        Some(Anchors { tables, buckets })
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
            let text = match hay.get(at..at + 4) {
                Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
                _ => {
                    let mut four = [0u8; 4];
                    let rest = hay.get(at..).unwrap_or_default();
                    four[..rest.len().min(4)].copy_from_slice(&rest[..rest.len().min(4)]);
                    u32::from_le_bytes(four)
                }
            };
            let mut buckets = u16::from(lo[j]) | u16::from(hi[j]) << 8;
            while buckets != 0 {
                let b = buckets.trailing_zeros() as usize;
                buckets &= buckets - 1;
                for anchor in &self.buckets[b] {
                    if anchor.is_at(text) && confirm(at, anchor.index) {
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
        let mut i = from;
        let i = loop {
            match self.next_block(hay, i) {
                Ok(block) => {
                    let (at, mask) = (block.at, block.mask);
                    let found = self.confirm_block(hay, at, mask, &block.lo, &block.hi, confirm);
                    if found.is_some() {
                        return found;
                    }
                    i = at + STEP;
                }
                Err(end) => break end,
            }
        };
        // The tail, copied into zeros: no anchor holds a NUL, so none is found past the end.
        let rest = hay.get(i..).unwrap_or_default();
        let mut padded = [0u8; 2 * STEP + WIDTH - 1];
        padded[..rest.len()].copy_from_slice(rest);
        let mut j = 0;
        while j < rest.len() {
            if let Ok(block) = self.next_block(&padded[j..j + STEP + WIDTH - 1], 0) {
                let mut mask = block.mask;
                if rest.len() - j < STEP {
                    mask &= (1u64 << (rest.len() - j)) - 1;
                }
                let found = self.confirm_block(hay, i + j, mask, &block.lo, &block.hi, confirm);
                if found.is_some() {
                    return found;
                }
            }
            j += STEP;
        }
        None
    }

    /// The first block of 64 places from `i` on (stepping by 64, while 64 + WIDTH - 1
    /// bytes are left) where some bucket may start, or where the blocks ended.
    ///
    /// Kept apart from the confirming, which calls out: across a call every vector register
    /// is lost, and the tables were reloaded from the stack at every block, which made the
    /// scan bound by loads. Here they stay in registers from block to block.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[inline(never)]
    fn next_block(&self, hay: &[u8], mut i: usize) -> Result<Block, usize> {
        use std::arch::x86_64::*;
        let mut t = [[_mm512_setzero_si512(); 2]; WIDTH];
        for (k, per_half) in self.tables.iter().enumerate() {
            for (h, table) in per_half.iter().enumerate() {
                // SAFETY: `table` is 64 readable bytes; the load is unaligned.
                t[k][h] = unsafe { _mm512_loadu_si512(table.as_ptr().cast()) };
            }
        }
        while i + STEP + WIDTH - 1 <= hay.len() {
            // Buckets that may start at each of the 64 places from `i`, as two vectors of
            // bits.
            let p = hay.as_ptr();
            let mut lo = _mm512_set1_epi8(-1);
            let mut hi = lo;
            for (k, tk) in t.iter().enumerate() {
                // SAFETY: the loop condition leaves 64 + WIDTH - 1 bytes from `i`.
                let v = unsafe { _mm512_loadu_si512(p.add(i + k).cast()) };
                lo = _mm512_and_si512(lo, _mm512_permutexvar_epi8(v, tk[0]));
                hi = _mm512_and_si512(hi, _mm512_permutexvar_epi8(v, tk[1]));
            }
            let any = _mm512_or_si512(lo, hi);
            let mask = _mm512_test_epi8_mask(any, any);
            if mask != 0 {
                let mut block = Block {
                    at: i,
                    mask,
                    lo: [0; STEP],
                    hi: [0; STEP],
                };
                // SAFETY: each array is 64 writable bytes; the stores are unaligned.
                unsafe {
                    _mm512_storeu_si512(block.lo.as_mut_ptr().cast(), lo);
                    _mm512_storeu_si512(block.hi.as_mut_ptr().cast(), hi);
                }
                return Ok(block);
            }
            i += STEP;
        }
        Err(i)
    }
}

/// 64 places where some bucket may start: per place (bit `j` of `mask`, byte `j` of `lo`
/// and `hi`), the buckets 0–7 and 8–15 that may.
struct Block {
    at: usize,
    mask: u64,
    lo: [u8; STEP],
    hi: [u8; STEP],
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

/// Puts anchors in buckets so that few places of ordinary text pass a bucket's tables. A
/// place passes a bucket when each of its bytes matches *some* anchor of the bucket at that
/// position, so a bucket passes the mixes of its anchors too (`oriz` and `fres` pass
/// `orez`, `fris`, …). On 300 MB of the bench log, with anchors bucketed by the positions
/// they share, three candidates in four were such mixes (1.03 million candidates), each a
/// return from the vector loop and a comparison for nothing; costed as below, 0.43 million
/// candidates are left.
///
/// A bucket's cost is the share of the 4-byte places of typical log text it lets through:
/// the product over positions of the summed [`frequency`] of the bytes its tables pass
/// there. Anchors are placed one by one, those that would pass the most text first, each
/// where it adds least to the total; then single moves and swaps are taken while they
/// lower it. Buckets hold at most an even share, rounded up.
fn assign_buckets(anchors: &[Box<[u8]>]) -> [Vec<usize>; BUCKETS] {
    let c = Costing::new(anchors);
    let cap = anchors.len().div_ceil(BUCKETS);
    let mut order: Vec<usize> = (0..anchors.len()).collect();
    order.sort_by(|&a, &b| c.rate(&c.entries[b]).total_cmp(&c.rate(&c.entries[a])));
    let mut buckets: [Vec<usize>; BUCKETS] = Default::default();
    for i in order {
        let best = (0..BUCKETS)
            .filter(|&b| buckets[b].len() < cap)
            .min_by(|&a, &b| {
                let added = |x: usize| c.rate(&c.union(&buckets[x], Some(i))) - c.cost(&buckets[x]);
                added(a).total_cmp(&added(b))
            })
            .unwrap_or(0);
        buckets[best].push(i);
    }
    // Then moves and swaps of single anchors, each taken as soon as it lowers the total,
    // until none does. Placed one by one, the first anchors fill buckets before the later
    // ones could show which belong together: this more than halves the mixes.
    let mut costs: [f64; BUCKETS] = std::array::from_fn(|b| c.cost(&buckets[b]));
    let lower = |after: f64, before: f64| after < before * (1.0 - 1e-9);
    for _ in 0..anchors.len() {
        let mut improved = false;
        for a in 0..BUCKETS {
            let mut i = 0;
            while i < buckets[a].len() {
                let x = buckets[a][i];
                let mut from = buckets[a].clone();
                from.remove(i);
                let from_cost = c.cost(&from);
                let mut changed = false;
                for b in (0..BUCKETS).filter(|&b| b != a) {
                    let before = costs[a] + costs[b];
                    if buckets[b].len() < cap {
                        let to_cost = c.rate(&c.union(&buckets[b], Some(x)));
                        if lower(from_cost + to_cost, before) {
                            buckets[b].push(x);
                            buckets[a] = from.clone();
                            (costs[a], costs[b]) = (from_cost, to_cost);
                            changed = true;
                            break;
                        }
                    }
                    for j in 0..buckets[b].len() {
                        let y = buckets[b][j];
                        let mut to = buckets[b].clone();
                        to[j] = x;
                        let (a_cost, b_cost) = (c.rate(&c.union(&from, Some(y))), c.cost(&to));
                        if lower(a_cost + b_cost, before) {
                            buckets[a][i] = y;
                            buckets[b] = to;
                            (costs[a], costs[b]) = (a_cost, b_cost);
                            changed = true;
                            break;
                        }
                    }
                    if changed {
                        break;
                    }
                }
                if changed {
                    improved = true;
                } else {
                    i += 1;
                }
            }
        }
        if !improved {
            break;
        }
    }
    buckets
}

/// What a bucket of anchors lets through (see [`assign_buckets`]).
struct Costing {
    /// Per table entry, the share of text whose bytes look it up.
    weight: [f64; TABLE],
    /// Per anchor and position, the table entries it sets (all of them past its end).
    entries: Vec<[u64; WIDTH]>,
}

impl Costing {
    fn new(anchors: &[Box<[u8]>]) -> Costing {
        let mut weight = [0f64; TABLE];
        for b in 0..=255u8 {
            weight[usize::from(b) % TABLE] += frequency(b);
        }
        let entries = anchors
            .iter()
            .map(|a| {
                let mut per = [u64::MAX; WIDTH];
                for (k, e) in per.iter_mut().enumerate() {
                    if let Some(c) = a.get(k) {
                        *e = 1 << (usize::from(c.to_ascii_lowercase()) % TABLE)
                            | 1 << (usize::from(c.to_ascii_uppercase()) % TABLE);
                    }
                }
                per
            })
            .collect();
        Costing { weight, entries }
    }

    /// The share of places passing tables that set `per`'s entries at each position.
    fn rate(&self, per: &[u64; WIDTH]) -> f64 {
        per.iter()
            .map(|&m| {
                let (mut m, mut sum) = (m, 0.0);
                while m != 0 {
                    sum += self.weight[m.trailing_zeros() as usize];
                    m &= m - 1;
                }
                sum
            })
            .product()
    }

    /// The entries of a bucket of `members` (and `extra`).
    fn union(&self, members: &[usize], extra: Option<usize>) -> [u64; WIDTH] {
        let mut per = [0u64; WIDTH];
        for &m in members.iter().chain(extra.as_ref()) {
            for (p, e) in per.iter_mut().zip(&self.entries[m]) {
                *p |= e;
            }
        }
        per
    }

    /// The share of places a bucket of `members` lets through.
    fn cost(&self, members: &[usize]) -> f64 {
        if members.is_empty() {
            0.0
        } else {
            self.rate(&self.union(members, None))
        }
    }
}

/// A rough share of each byte in application and access logs: lower-case English letters
/// by their frequency in English text, digits and the punctuation of JSON and URLs often,
/// capitals and other bytes seldom. Only [`assign_buckets`] uses it, to weigh one bucket
/// against another; it need not be exact (it sums to about 1).
fn frequency(b: u8) -> f64 {
    const LETTERS: &[u8; 26] = b"etaoinsrhldcumfpgwybvkxjqz";
    match b {
        b'a'..=b'z' => {
            let rank = LETTERS.iter().position(|&l| l == b).unwrap_or(25) as f64;
            // From ~5.5% for `e` down to ~0.1% for `z`.
            0.055 * (-rank / 6.5).exp()
        }
        b'0'..=b'9' => 0.012,
        b' ' | b'"' => 0.06,
        b':' | b',' | b'.' | b'-' | b'_' | b'/' | b'=' => 0.015,
        b'A'..=b'Z' => 0.003,
        b'\\' | b'{' | b'}' | b'[' | b']' | b'(' | b')' | b'&' | b'?' | b'%' | b'+' | b'\'' => {
            0.004
        }
        0x80.. => 0.0005,
        _ => 0.0002,
    }
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
    fn every_anchor_is_in_one_bucket_and_no_bucket_is_over_its_share() {
        for words in [super::super::LOG_WORDS, super::super::ACCESS_WORDS] {
            let (anchors, _) = super::super::anchored_words(words, &[]);
            let anchors: Vec<Box<[u8]>> = anchors.iter().map(|a| a.as_bytes().into()).collect();
            let buckets = assign_buckets(&anchors);
            let mut placed: Vec<usize> = buckets.iter().flatten().copied().collect();
            placed.sort();
            assert_eq!(placed, (0..anchors.len()).collect::<Vec<_>>());
            let cap = anchors.len().div_ceil(BUCKETS);
            assert!(buckets.iter().all(|b| b.len() <= cap));
            // Costed buckets let through less text than buckets in the order given.
            let costing = Costing::new(&anchors);
            let costed: f64 = buckets.iter().map(|b| costing.cost(b)).sum();
            let given: f64 = (0..anchors.len())
                .collect::<Vec<_>>()
                .chunks(cap)
                .map(|b| costing.cost(b))
                .sum();
            // (With one anchor per bucket there is nothing to choose.)
            if cap > 1 {
                assert!(costed < given / 2.0, "{costed} vs {given}");
            }
        }
    }

    #[test]
    fn finds_what_a_byte_by_byte_search_finds() {
        let Some(_) = Anchors::new(&[b"x"]) else {
            eprintln!("skipped: this CPU has no AVX-512 VBMI");
            return;
        };
        let anchors: &[&[u8]] = &[b"gran", b"ode\"", b"jwt", b"\" 5", b"oriz", b"s_to", b"x"];
        let searcher = Anchors::new(anchors).expect("builds");
        // With bytes that share a table entry with an anchor's: `'` with `g`, `/` with `o`,
        // `4` with `t`, `b` with `"`, 0x07 with `G`.
        let text = b"{\"CODE\": 1} Authorize grant JWT \" 500 \xc3\xa9GRAN s_tO \xefDE\" ode\" 'ran /DE\" jw4 b 5 \x07RAN";
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
                proptest::sample::select(&["gran", "GrAn", "ode\"", "jwt", "\" 5", "x", " ", "\n", "o", "de", "\u{e9}", "\u{c1}", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    // Bytes that share a table entry with an anchor's (same low six bits).
                    "'ran", "/de\"", "jw4", "b 5", "\u{7}RAN", "\u{e7}"][..]),
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
