//! The prefilter: which lines of a chunk are worth parsing at all.
//!
//! Why: in a busy application log about 95% of lines have nothing to do with OAuth, and
//! parsing a line costs a hundred times more than looking at it. The prefilter is the only
//! stage that touches every byte, so it decides how close grantscope runs to the speed of
//! `rg`.
//!
//! How: a line is parsed when it contains, ignoring ASCII case, one of a format's words
//! ([`LOG_WORDS`], [`ACCESS_WORDS`]). Matching dozens of words case-insensitively with an
//! automaton costs ~15 instructions per byte. Instead each chunk is lowercased once (a
//! vectorised pass) and searched with Teddy, a SIMD multi-literal searcher, which passes
//! over most of a line a few SIMD instructions per 16 or 32 bytes. Teddy fingerprints a word by its
//! first four bytes when every word has four; shorter words would make it stop at every
//! common three-letter sequence, so they are searched for apart, each with `memmem`.
//! Without SIMD (or if Teddy cannot be built) the automaton checks each line.

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, Span};
use memchr::memmem;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Words an OAuth-relevant application / IdP log line contains and ~95% of other lines do
/// not. Deliberately not bare `token`, `error`, `state`, `login`: pagination tokens,
/// unrelated errors and SQL statements are most of a busy log.
const LOG_WORDS: &[&str] = &[
    "grant",
    "access_token",
    "id_token",
    "token_type",
    "/token",
    "token exchange",
    "token_endpoint",
    "token request",
    "oauth",
    "oidc",
    "openid",
    "jwt",
    "bearer",
    "authorize",
    "authorization.",
    "authorization_",
    "/auth",
    "userinfo",
    "callback",
    "\"code\"",
    "code=",
    "code_",
    "\"state\"",
    "state=",
    "client_id",
    "clientid",
    "client-id",
    "client_name",
    "aadsts",
    "signin",
    "sign-in",
    "resulttype",
    "errorcode",
    "cognito",
    "revoke",
    "revocation",
    "refresh",
    "consent",
    "redirect",
    "invalid_",
    "unauthorized",
    "_required",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "unsupported_",
    "mismatching",
    ": 401",
    ":401",
    "\"401\"",
    "=401",
    " 401 ",
    "insufficient_scope",
];

/// Access-log lines: OAuth parameters and endpoints, and the statuses a failure can only
/// be seen by (`" 5` is any 5xx after the request's closing quote).
const ACCESS_WORDS: &[&str] = &[
    "code=",
    "state=",
    "error=",
    "response_type",
    "token",
    "authoriz",
    "revoke",
    "revocation",
    "userinfo",
    "callback",
    " 401 ",
    " 403 ",
    " 499 ",
    " 460 ",
    " -1 ",
    "\" 5",
];

/// Finds the lines worth parsing; one per line format, built once.
pub struct Prefilter {
    /// Teddy over lowercased text for the words of four bytes or more; None where no SIMD
    /// searcher could be built.
    teddy: Option<packed::Searcher>,
    /// The shorter words, lowercase.
    short: Vec<memmem::Finder<'static>>,
    /// All words, case-insensitively, as an automaton: the exact test for one line.
    words: AhoCorasick,
}

/// Teddy's fingerprint length: words shorter than this are searched for apart.
const FINGERPRINT: usize = 4;

impl Prefilter {
    /// The prefilter of access logs (`access`) or of application logs.
    pub fn get(access: bool) -> &'static Prefilter {
        static LOG: OnceLock<Prefilter> = OnceLock::new();
        static ACCESS: OnceLock<Prefilter> = OnceLock::new();
        if access {
            ACCESS.get_or_init(|| Prefilter::new(ACCESS_WORDS))
        } else {
            LOG.get_or_init(|| Prefilter::new(LOG_WORDS))
        }
    }

    fn new(words: &[&str]) -> Prefilter {
        let mut config = packed::Config::new();
        config.match_kind(packed::MatchKind::LeftmostFirst);
        let mut builder = config.builder();
        let mut short = Vec::new();
        for w in words.iter().map(|w| w.to_ascii_lowercase()) {
            if w.len() < FINGERPRINT {
                short.push(memmem::Finder::new(w.as_bytes()).into_owned());
            } else {
                builder.add(w);
            }
        }
        Prefilter {
            teddy: builder.build(),
            short,
            // A DFA: when Teddy is unavailable it runs over every byte.
            words: AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .ascii_case_insensitive(true)
                .build(words)
                .expect("static patterns"),
        }
    }

    /// Whether one line contains a word (the exact test, one line at a time).
    pub fn is_match(&self, line: &[u8]) -> bool {
        self.words.is_match(line)
    }

    /// Runs `each` over the lines of `chunk` (split at `\n`, the last one possibly without
    /// it) with their index and whether they contain a word.
    pub fn scan_lines(&self, chunk: &[u8], mut each: impl FnMut(usize, &[u8], bool)) {
        let ends = memchr::memchr_iter(b'\n', chunk).chain(std::iter::once(chunk.len()));
        let Some(teddy) = &self.teddy else {
            let mut start = 0;
            for (i, end) in ends.enumerate() {
                let line = &chunk[start..end];
                each(i, line, self.is_match(line));
                start = end + 1;
            }
            return;
        };
        thread_local! {
            static LOWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        LOWER.with_borrow_mut(|lower| {
            lower.clear();
            lower.extend(chunk.iter().map(u8::to_ascii_lowercase));
            let lower = &lower[..];
            let mut long = Cursor::default();
            let mut short = vec![Cursor::default(); self.short.len()];
            let mut start = 0;
            for (i, end) in ends.enumerate() {
                let line = &chunk[start..end];
                // Every cursor moves past this line, so none searches a line twice.
                let mut hit = long.hit(start, end, |from| {
                    teddy
                        .find_in(lower, Span::from(from..lower.len()))
                        .map(|m| m.start())
                });
                for (cursor, finder) in short.iter_mut().zip(&self.short) {
                    hit |= cursor.hit(start, end, |from| {
                        finder.find(&lower[from..]).map(|at| from + at)
                    });
                }
                each(i, line, hit);
                start = end + 1;
            }
        });
    }
}

/// One searcher's progress through a chunk: where its next match starts.
#[derive(Clone, Copy, Default)]
struct Cursor {
    /// Start of the next match at or after `from`; None before the first search.
    next: Option<usize>,
    /// Where the next search begins; `usize::MAX` once nothing is left to find.
    from: usize,
}

impl Cursor {
    /// Whether a match starts in the line `start..end`; searches (from the line's start at
    /// the earliest) only when the last match found lies before the line.
    fn hit(&mut self, start: usize, end: usize, find: impl FnOnce(usize) -> Option<usize>) -> bool {
        if self.next.is_none_or(|n| n < start) && self.from != usize::MAX {
            let from = self.from.max(start);
            self.next = find(from);
            self.from = self.next.map_or(usize::MAX, |n| n + 1);
        }
        self.next.is_some_and(|n| n >= start && n < end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_pass_exactly_when_they_hold_a_word() {
        let text = "noise line\n{\"msg\":\"GRANT request failed\"}\n\nnothing here\n\
                    GET /x?CODE=abc 200\nstate of things\r\n\"State\": 1\nlast Bearer";
        for access in [false, true] {
            let pf = Prefilter::get(access);
            let mut seen = Vec::new();
            pf.scan_lines(text.as_bytes(), |i, line, pass| {
                assert_eq!(pass, pf.is_match(line), "line {i}: {line:?}");
                seen.push(i);
            });
            assert_eq!(seen, (0..8).collect::<Vec<_>>());
        }
    }

    proptest::proptest! {
        /// Teddy over lowercased chunks, the short words apart, the cursors: whatever the
        /// text, a line passes exactly when the per-line automaton finds a word in it.
        #[test]
        fn scan_agrees_with_the_automaton(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(LOG_WORDS),
                    proptest::sample::select(ACCESS_WORDS),
                    proptest::sample::select(&["\n", "\r\n", " ", "x", "\"", "=", "_", "to", "ken", "jw", "t"][..]),
                ],
                0..60,
            ),
            flips in proptest::collection::vec(proptest::bool::ANY, 0..400),
            access in proptest::bool::ANY,
        ) {
            let mut text: Vec<u8> = pieces.concat().into_bytes();
            for (b, up) in text.iter_mut().zip(flips) {
                if up {
                    *b = b.to_ascii_uppercase();
                }
            }
            let pf = Prefilter::get(access);
            let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
            let mut seen = 0;
            pf.scan_lines(&text, |i, line, pass| {
                assert_eq!(line, lines[i]);
                assert_eq!(pass, pf.is_match(line), "line {i}: {:?}", String::from_utf8_lossy(line));
                seen += 1;
            });
            proptest::prop_assert_eq!(seen, lines.len());
        }
    }
}
