//! Where a JSON value ends, found without parsing it: how a capture is split into its
//! entries, the one serial step of reading a HAR.
//!
//! A capture's bodies are JSON strings full of escapes (`\"` in every attribute of a page,
//! `\n` on every line). Looking for the next quote or backslash stopped at each of them,
//! and the split ran at ~1.6 GB/s, a quarter of the time spent on a capture. Where the CPU
//! has AVX2, 64 bytes are classified at once instead: which quotes are escaped follows from
//! the runs of backslashes before them (the carry trick of simdjson's stage 1), which bytes
//! are inside strings from a prefix XOR of the quotes left, and only the brackets outside
//! strings are looked at one by one. Elsewhere the search for quotes and backslashes
//! ([`memchr`]) is kept.
//!
//! The blocks read a backslash as escaping the byte after it wherever it is; the search
//! only inside strings. In valid JSON a backslash is only found inside strings, so both
//! find the same end; on text that is not JSON they may differ, and the entry's parser
//! then says what is wrong with it.

/// The end (one past the closing quote) of the string opening at `i`.
pub(super) fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { blocks::skip_string(b, i) };
    }
    bytewise::skip_string(b, i)
}

/// The end of the value starting at `i`. Containers are followed by their brackets alone
/// (nesting depth costs nothing); scalars run to the next delimiter. An object is delimited
/// by its braces alone: in JSON braces and brackets balance each on their own, and the
/// entry's parser checks the rest.
pub(super) fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    let (open, close) = match *b.get(i)? {
        b'"' => return skip_string(b, i),
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => {
            let n = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - i);
            return (n > 0).then_some(i + n);
        }
    };
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { blocks::skip_container(b, i, open, close) };
    }
    bytewise::skip_container(b, i, open, close)
}

/// The search for quotes and backslashes with `memchr`, for CPUs without AVX2.
mod bytewise {
    pub(super) fn skip_string(b: &[u8], i: usize) -> Option<usize> {
        let mut j = i + 1;
        loop {
            j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
            if b[j] == b'"' {
                return Some(j + 1);
            }
            j += 2;
        }
    }

    pub(super) fn skip_container(b: &[u8], i: usize, open: u8, close: u8) -> Option<usize> {
        let mut depth = 0usize;
        let mut j = i;
        loop {
            j += memchr::memchr3(b'"', open, close, b.get(j..)?)?;
            match b[j] {
                b'"' => {
                    j = skip_string(b, j)?;
                    continue;
                }
                c if c == open => depth += 1,
                _ => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
            }
            j += 1;
        }
    }
}

/// What is carried from one block of 64 bytes to the next.
#[derive(Default)]
struct Carry {
    /// The first byte of the next block is escaped (the block ended in an odd run of
    /// backslashes).
    escaped: u64,
    /// All ones when the block ended inside a string.
    in_string: u64,
}

const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

impl Carry {
    /// The bytes escaped by a backslash, given where the backslashes are. A run of
    /// backslashes escapes every second byte after its start; adding the starts of runs on
    /// odd bits to the backslashes carries each such run past its end, which tells the
    /// runs starting on odd bits from those starting on even ones.
    fn escaped(&mut self, backslash: u64) -> u64 {
        let backslash = backslash & !self.escaped;
        let follows_escape = backslash << 1 | self.escaped;
        let odd_starts = backslash & !EVEN_BITS & !follows_escape;
        let (even_started, overflow) = odd_starts.overflowing_add(backslash);
        self.escaped = u64::from(overflow);
        (EVEN_BITS ^ (even_started << 1)) & follows_escape
    }

    /// The bytes inside strings (each opening quote included, each closing one not), given
    /// the quotes that are not escaped.
    fn in_string(&mut self, quotes: u64) -> u64 {
        let mut x = quotes;
        for shift in [1, 2, 4, 8, 16, 32] {
            x ^= x << shift;
        }
        let inside = x ^ self.in_string;
        self.in_string = ((inside as i64) >> 63) as u64;
        inside
    }
}

#[cfg(target_arch = "x86_64")]
mod blocks {
    use super::Carry;
    use std::arch::x86_64::*;

    /// Per byte of the 64 from `at` (zeros past the end of `b`): where each of `bytes`
    /// stands, as bit masks.
    #[target_feature(enable = "avx2")]
    fn masks<const N: usize>(b: &[u8], at: usize, bytes: [u8; N]) -> [u64; N] {
        let mut padded = [0u8; 64];
        let block: &[u8] = match b.get(at..at + 64) {
            Some(block) => block,
            None => {
                let rest = b.get(at..).unwrap_or_default();
                padded[..rest.len()].copy_from_slice(rest);
                &padded
            }
        };
        let p = block.as_ptr();
        // SAFETY: `block` is 64 readable bytes; the loads are unaligned.
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_si256(p.cast()),
                _mm256_loadu_si256(p.add(32).cast()),
            )
        };
        let eq = |c: u8| {
            let c = _mm256_set1_epi8(c as i8);
            let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, c)) as u32;
            let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, c)) as u32;
            u64::from(lo) | u64::from(hi) << 32
        };
        bytes.map(eq)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn skip_string(b: &[u8], i: usize) -> Option<usize> {
        let mut carry = Carry::default();
        let mut at = i;
        // The opening quote is not the end.
        let mut skip = 1u64;
        while at < b.len() {
            let [quote, backslash] = masks(b, at, [b'"', b'\\']);
            let quotes = quote & !carry.escaped(backslash) & !skip;
            if quotes != 0 {
                return Some(at + quotes.trailing_zeros() as usize + 1);
            }
            skip = 0;
            at += 64;
        }
        None
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn skip_container(b: &[u8], i: usize, open: u8, close: u8) -> Option<usize> {
        let mut carry = Carry::default();
        let mut depth = 0usize;
        let mut at = i;
        while at < b.len() {
            let [quote, backslash, opens, closes] = masks(b, at, [b'"', b'\\', open, close]);
            let escaped = carry.escaped(backslash);
            let inside = carry.in_string(quote & !escaped);
            let mut brackets = (opens | closes) & !inside & !escaped;
            while brackets != 0 {
                let bit = brackets & brackets.wrapping_neg();
                if opens & bit != 0 {
                    depth += 1;
                } else {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(at + bit.trailing_zeros() as usize + 1);
                    }
                }
                brackets ^= bit;
            }
            at += 64;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One byte at a time: a backslash escapes the byte after it, anywhere.
    fn reference(b: &[u8], i: usize) -> Option<usize> {
        let (open, close) = match *b.get(i)? {
            b'{' => (b'{', b'}'),
            b'[' => (b'[', b']'),
            b'"' => (0, 0),
            _ => return skip_value(b, i),
        };
        let (mut depth, mut inside, mut j) = (0usize, false, i);
        while j < b.len() {
            match b[j] {
                b'\\' => j += 1,
                b'"' if open == 0 && j > i => return Some(j + 1),
                b'"' => inside = !inside,
                c if !inside && c == open => depth += 1,
                c if !inside && c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                _ => {}
            }
            j += 1;
        }
        None
    }

    /// Text of the bytes that matter, in runs long enough to cross blocks.
    fn tricky() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b'"'),
                Just(b'\\'),
                Just(b'{'),
                Just(b'}'),
                Just(b'['),
                Just(b']'),
                Just(b'a'),
            ],
            0..300,
        )
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<i32>().prop_map(serde_json::Value::from),
            "[\"\\\\{}\\[\\]a\\n\u{e9}]{0,90}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z\"\\\\{]{0,6}", inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn blocks_end_where_a_byte_by_byte_scan_ends(mut text in tricky(), start in 0u8..3) {
            text.insert(0, [b'"', b'{', b'['][usize::from(start)]);
            prop_assert_eq!(skip_value(&text, 0), reference(&text, 0));
        }

        #[test]
        fn both_scans_find_the_end_of_a_json_value(
            v in json_value(),
            pretty in any::<bool>(),
            tail in "[ ,}\\]\"]{0,3}",
        ) {
            let mut text = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                serde_json::to_string(&v).unwrap()
            };
            let len = text.len();
            text.push_str(&tail);
            let b = text.as_bytes();
            let expected = match b[0] {
                b'{' | b'[' | b'"' => Some(len),
                _ => skip_value(b, 0),
            };
            prop_assert_eq!(skip_value(b, 0), expected);
            let bytewise = match b[0] {
                b'"' => bytewise::skip_string(b, 0),
                b'{' => bytewise::skip_container(b, 0, b'{', b'}'),
                b'[' => bytewise::skip_container(b, 0, b'[', b']'),
                _ => expected,
            };
            prop_assert_eq!(bytewise, expected);
        }
    }

    #[test]
    fn runs_of_backslashes_across_blocks() {
        for run in 0..140 {
            for pad in 0..70 {
                let mut s = vec![b'"'];
                s.extend(std::iter::repeat_n(b'a', pad));
                s.extend(std::iter::repeat_n(b'\\', run));
                s.extend(b"\"tail\"");
                let end = if run % 2 == 0 {
                    1 + pad + run + 1
                } else {
                    s.len()
                };
                assert_eq!(skip_string(&s, 0), Some(end), "run {run} pad {pad}");
                assert_eq!(
                    bytewise::skip_string(&s, 0),
                    Some(end),
                    "run {run} pad {pad}"
                );
            }
        }
    }
}
