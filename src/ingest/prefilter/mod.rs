//! The prefilter: which lines of a chunk are worth parsing at all.
//!
//! Why: in a busy application log about 95% of lines have nothing to do with OAuth, and
//! parsing a line costs a hundred times more than looking at it. The prefilter is the only
//! stage that touches every byte, so it decides how close grantscope runs to the speed of
//! `rg`.
//!
//! How: a line is parsed when it contains, ignoring ASCII case, one of a format's words
//! (`LOG_WORDS`, `ACCESS_WORDS`). Matching dozens of words case-insensitively with an
//! automaton costs ~15 instructions per byte. Instead each chunk is lowercased once (a
//! vectorised pass) and searched with Teddy, a SIMD multi-literal searcher, which passes
//! over most of a line a few SIMD instructions per 16 or 32 bytes.
//!
//! Teddy fingerprints each pattern by its first four bytes and checks every place a
//! fingerprint matches, so a word starting like a common word (`user`info, `stat`e,
//! `toke`n_type, `acce`ss_denied) made it stop at nearly every `user_agent`, `status` and
//! `page_token`: checking took longer than scanning. So Teddy looks for each word's
//! *anchor*, four bytes from inside it that ordinary text seldom holds (`rinf`, `ate"`,
//! `n_ty`, `s_de`), and a found anchor counts only when its whole word stands around it.
//! That made the scan 1.6× faster (1.7 → 2.7 GB/s on the bench log). Words sharing an anchor
//! (`authorize`, `authorization.`) share one pattern.
//!
//! A few words count only in context (`IN_CONTEXT`): `"code"` not as the key of a short
//! string of capitals and digits (a promo code, no authorization code), `code_` not right
//! after a letter (`decode_`), `refresh` not as the method of a JVM stack frame. On the
//! bench log, lines with only those were two thirds of all the lines parsed, and made no
//! event. The context is looked at where a word is confirmed, in the line around it, so
//! every searcher agrees.
//!
//! Words shorter than four bytes would make Teddy stop at every common three-letter
//! sequence, so they are searched for apart, each with `memmem`. Without SIMD (or if
//! Teddy cannot be built) the automaton checks each line.

mod folded;

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, Span};
use memchr::memmem;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Words an OAuth-relevant application / IdP log line contains and ~95% of other lines do
/// not, each with its anchor (see the module doc). Deliberately not bare `token`, `error`,
/// `state`, `login`: pagination tokens, unrelated errors and SQL statements are most of a
/// busy log.
const LOG_WORDS: &[(&str, &str)] = &[
    ("grant", "gran"),
    ("access_token", "s_to"),
    ("id_token", "d_to"),
    ("token_type", "n_ty"),
    ("/token", "/tok"),
    ("token exchange", "n ex"),
    ("token_endpoint", "n_en"),
    ("token request", "n re"),
    ("oauth", "oaut"),
    ("oidc", "oidc"),
    ("openid", "enid"),
    ("jwt", "jwt"),
    ("bearer", "arer"),
    ("authorize", "oriz"),
    ("authorization.", "oriz"),
    ("authorization_", "oriz"),
    ("/auth", "/aut"),
    ("userinfo", "rinf"),
    ("callback", "llba"),
    ("\"code\"", "ode\""),
    ("code=", "ode="),
    ("code_", "ode_"),
    ("\"state\"", "ate\""),
    ("state=", "ate="),
    ("client_id", "nt_i"),
    ("clientid", "ntid"),
    ("client-id", "nt-i"),
    ("client_name", "nt_n"),
    ("aadsts", "adst"),
    ("signin", "gnin"),
    ("sign-in", "n-in"),
    ("resulttype", "ltty"),
    ("errorcode", "rcod"),
    ("cognito", "gnit"),
    ("revoke", "evok"),
    ("revocation", "evoc"),
    ("refresh", "fres"),
    ("consent", "nsen"),
    ("redirect", "edir"),
    ("invalid_", "lid_"),
    ("unauthorized", "naut"),
    ("_required", "quir"),
    ("access_denied", "s_de"),
    ("server_error", "r_er"),
    ("temporarily_unavailable", "y_un"),
    ("unsupported_", "nsup"),
    ("mismatching", "smat"),
    (": 401", " 401"),
    (":401", ":401"),
    ("\"401\"", "401\""),
    ("=401", "=401"),
    (" 401 ", " 401"),
    ("insufficient_scope", "t_sc"),
];

/// Access-log lines: OAuth parameters and endpoints, and the statuses a failure can only
/// be seen by (`" 5` is any 5xx after the request's closing quote). What makes a request
/// line an OAuth one is a query key (`response_type`, `client_id`, `error`, `grant_type`,
/// `code` with its companions) or the path of an endpoint. So not bare `token` (every
/// `pagination_token=`, `?token=` of an e-mail link) nor `state=` (`?state=shipped`), which
/// are never one alone: on the bench log they were four lines parsed in five.
const ACCESS_WORDS: &[(&str, &str)] = &[
    ("code=", "ode="),
    ("error=", "ror="),
    ("response_type", "e_ty"),
    ("client_id", "nt_i"),
    ("grant_type", "nt_t"),
    ("/token", "/tok"),
    ("authoriz", "oriz"),
    ("revoke", "evok"),
    ("revocation", "evoc"),
    ("userinfo", "rinf"),
    ("callback", "llba"),
    (" 401 ", "401 "),
    (" 403 ", "403 "),
    (" 499 ", "499 "),
    (" 460 ", "460 "),
    (" -1 ", " -1 "),
    ("\" 5", "\" 5"),
];

/// Words that count only in some surroundings: where the word alone passed thousands of
/// lines per megabyte that make no event. A line passes when one of its words counts.
const IN_CONTEXT: &[(&str, Context)] = &[
    ("\"code\"", Context::CodeValue),
    ("code_", Context::NotAfterLetter),
    ("refresh", Context::NotJvmFrame),
];

/// [`IN_CONTEXT`] of access logs, whose words are those of a request target.
const ACCESS_IN_CONTEXT: &[(&str, Context)] = &[("code=", Context::CodeWithCompanion)];

/// A format family's words and where some of them count.
struct WordList {
    words: &'static [(&'static str, &'static str)],
    in_context: &'static [(&'static str, Context)],
}

const LOG_LIST: WordList = WordList {
    words: LOG_WORDS,
    in_context: IN_CONTEXT,
};

const ACCESS_LIST: WordList = WordList {
    words: ACCESS_WORDS,
    in_context: ACCESS_IN_CONTEXT,
};

/// What must surround a word for it to count (see [`IN_CONTEXT`]).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Context {
    /// Anywhere.
    Any,
    /// Not right after a letter, as in `decode_page_token` and `barcode_scan`, which are no
    /// `code_challenge` or `CODE_TO_TOKEN`.
    NotAfterLetter,
    /// Not the method of a frame of a JVM stack trace (`at ...Context.refresh(Context.java:583)`,
    /// `(Unknown Source)`, `(Native Method)`): Spring's `AbstractApplicationContext.refresh`,
    /// Hibernate's `Session.refresh` and caches' `refresh` fill Java stack traces. An OAuth
    /// library's frames name it elsewhere (`oauth2`, `refreshToken(`, `RefreshError`), and
    /// its failures name their error. A call written in a message (`session.refresh()
    /// failed`) still counts.
    NotJvmFrame,
    /// Not a JSON key whose value is a short string of capitals and digits (`SPRING24`,
    /// `E1001`, `NONE`). Applications log a `"code"` for everything, and on the bench log
    /// records of promo codes were half of all the lines parsed. Such a value is no
    /// authorization code: a code is a credential of at least 128 bits of entropy (RFC 6749
    /// §10.10), 22 characters or more in base64url, 25 in capitals and digits. Anything else
    /// counts: lower case (GitHub's 20 hex digits), a masked code (Auth0's `*****Hq7`), an
    /// escape, a value cut at the end of the line, an error code with an underscore
    /// (`PERMISSION_DENIED`), a number, `null` or an object (an error's `"code": 403` may be
    /// all that names an OAuth failure), or `"code"` that is no key at all.
    CodeValue,
    /// A query key `code` of a URL that also has a `state`, `iss` or `session_state` key
    /// (or a key with an escape, which may decode to one), as `http::may_be_oauth` asks of
    /// a callback: on the bench access log, `?code=SPRING24` promotions and `/unsubscribe?
    /// code=` links were half of the lines parsed, and made no event. The URL is the run of
    /// text around the word up to a blank, a quote or the line's end.
    ///
    /// Each `code=` key looks for the companion only as far as the `code=` keys next to it
    /// (see [`code_has_companion`]), so that a line of nothing but `&code=` costs a read or
    /// two of each byte, not one per `code=`; a URL with a companion still has a `code=` key
    /// that counts, the one nearest to it, so lines pass exactly as if every key looked at
    /// the whole URL.
    CodeWithCompanion,
}

/// The shortest string of capitals and digits that can hold an authorization code's 128
/// bits (36 symbols: 5.17 bits each).
const SHORTEST_CAPS_CODE: usize = 25;

impl Context {
    fn of(word: &str, in_context: &[(&str, Context)]) -> Context {
        in_context
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map_or(Context::Any, |(_, c)| *c)
    }

    /// Whether the word at `start..end` of `text` counts. `text` is as read (not
    /// lowercased); the word lies in one line, and what is looked at around it does not
    /// pass the line's end, so that a line in a chunk and the line alone give one answer.
    /// It reads a bounded stretch after the word (blanks aside): a line can hold thousands
    /// of these words.
    fn holds(self, text: &[u8], start: usize, end: usize) -> bool {
        let rest = text.get(end..).unwrap_or_default();
        match self {
            Context::Any => true,
            Context::NotAfterLetter => !start
                .checked_sub(1)
                .and_then(|i| text.get(i))
                .is_some_and(u8::is_ascii_alphabetic),
            Context::NotJvmFrame => {
                let Some(inside) = rest.strip_prefix(b"(") else {
                    return true;
                };
                // `File.java:64)`: a file name, a colon, a line number, the bracket.
                let name = inside.iter().take(FRAME_FILE_LONGEST).position(|b| {
                    !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$' | b'-'))
                });
                let file_and_line = name.is_some_and(|n| {
                    n > 0 && inside[n] == b':' && {
                        let digits = inside[n + 1..]
                            .iter()
                            .take(10)
                            .take_while(|b| b.is_ascii_digit())
                            .count();
                        digits > 0 && inside.get(n + 1 + digits) == Some(&b')')
                    }
                });
                !(file_and_line
                    || inside.starts_with(b"Unknown Source)")
                    || inside.starts_with(b"Native Method)"))
            }
            Context::CodeValue => {
                let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
                let mut at = rest.iter().position(|b| !blank(b)).unwrap_or(rest.len());
                if rest.get(at) != Some(&b':') {
                    return true;
                }
                at += 1;
                at += rest[at..]
                    .iter()
                    .position(|b| !blank(b))
                    .unwrap_or(rest.len() - at);
                if rest.get(at) != Some(&b'"') {
                    return true;
                }
                // Only whether the value is a short run of capitals and digits decides, so
                // no more of it is read than that.
                let value = &rest[at + 1..];
                match value
                    .iter()
                    .take(SHORTEST_CAPS_CODE)
                    .position(|b| !(b.is_ascii_uppercase() || b.is_ascii_digit()))
                {
                    // The closing quote ends a short run; anything else (lower case, an
                    // escape, the end of the line) makes it no such run.
                    Some(i) => value[i] != b'"',
                    // As long as a code can be, or cut at the end of the text.
                    None => true,
                }
            }
            Context::CodeWithCompanion => code_has_companion(text, start, end),
        }
    }
}

/// Bytes that end a URL in a log line (and the line's own end).
fn ends_url(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'"' | b'\'' | b'\n' | b'\r')
}

/// Bytes a query or fragment key follows.
fn starts_key(b: u8) -> bool {
    matches!(b, b'?' | b'&' | b'#')
}

/// [`Context::CodeWithCompanion`] of the `code=` at `start..end` of `text`: whether it is a
/// key, with a companion key between the `code=` keys before and after it in its URL.
fn code_has_companion(text: &[u8], start: usize, end: usize) -> bool {
    if !start
        .checked_sub(1)
        .and_then(|i| text.get(i))
        .is_some_and(|&b| starts_key(b))
    {
        return false;
    }
    // What the key starting at `at` is: another `code=` (where this one's reach ends), a
    // companion, or neither.
    let key = |at: usize| {
        let piece = &text[at..];
        let len = piece
            .iter()
            .position(|&b| b == b'=' || starts_key(b) || ends_url(b))
            .unwrap_or(piece.len());
        let key = &piece[..len];
        let is_code = key.eq_ignore_ascii_case(b"code") && piece.get(len) == Some(&b'=');
        let companion = super::http::CODE_COMPANIONS
            .iter()
            .any(|c| key.eq_ignore_ascii_case(c.as_bytes()))
            || key.contains(&b'%');
        (is_code, companion)
    };
    // Where the keys after this one start, up to the URL's end, and those before it, back
    // to its start; each side is read only as far as its first `code=` key.
    let after = text[end..]
        .iter()
        .take_while(|&&b| !ends_url(b))
        .enumerate()
        .filter(|(_, &b)| starts_key(b))
        .map(|(i, _)| end + i + 1);
    let before = text[..start - 1]
        .iter()
        .rev()
        .take_while(|&&b| !ends_url(b))
        .enumerate()
        .filter(|(_, &b)| starts_key(b))
        .map(|(i, _)| start - 1 - i);
    fn companion_first(
        mut keys: impl Iterator<Item = usize>,
        key: impl Fn(usize) -> (bool, bool),
    ) -> bool {
        keys.find_map(|at| match key(at) {
            (true, _) => Some(false),
            (_, true) => Some(true),
            _ => None,
        })
        .unwrap_or(false)
    }
    companion_first(after, key) || companion_first(before, key)
}

/// The longest file name of a JVM stack frame looked at ([`Context::NotJvmFrame`]).
const FRAME_FILE_LONGEST: usize = 128;

/// Finds the lines worth parsing; one per line format, built once.
pub struct Prefilter {
    /// Every word's anchor, searched for in the raw text ignoring case (AVX-512 VBMI); None
    /// where the CPU lacks it, and then Teddy and `short` do the work.
    folded: Option<folded::Anchors>,
    /// Per `folded` anchor: the lowercase words holding it, with its offset in each.
    folded_words: Anchored,
    /// Teddy over lowercased text for the anchors of the words of four bytes or more; None
    /// where no SIMD searcher could be built.
    teddy: Option<packed::Searcher>,
    /// Per Teddy pattern (an anchor): the lowercase words holding it, with its offset in each.
    anchored: Anchored,
    /// The shorter words, lowercase.
    short: Vec<memmem::Finder<'static>>,
    /// All words, case-insensitively, as an automaton: the exact test for one line.
    words: AhoCorasick,
    /// Per word of `words`: where it counts.
    contexts: Vec<Context>,
}

/// Teddy's fingerprint length: words shorter than this are searched for apart.
const FINGERPRINT: usize = 4;

impl Prefilter {
    /// The prefilter of access logs (`access`) or of application logs.
    pub fn get(access: bool) -> &'static Prefilter {
        static LOG: OnceLock<Prefilter> = OnceLock::new();
        static ACCESS: OnceLock<Prefilter> = OnceLock::new();
        if access {
            ACCESS.get_or_init(|| Prefilter::new(&ACCESS_LIST))
        } else {
            LOG.get_or_init(|| Prefilter::new(&LOG_LIST))
        }
    }

    fn new(list: &WordList) -> Prefilter {
        let mut p = Prefilter::without_vbmi(list);
        let (anchors, folded_words) = anchored_words(list.words, list.in_context);
        let anchors: Vec<&[u8]> = anchors.iter().map(|a| a.as_bytes()).collect();
        p.folded = folded::Anchors::new(&anchors);
        p.folded_words = folded_words;
        p
    }

    /// The prefilter as on a CPU without AVX-512 VBMI: lowercase, Teddy, `memmem`.
    fn without_vbmi(list: &WordList) -> Prefilter {
        let words = list.words;
        let (long, short): (Vec<_>, Vec<_>) =
            words.iter().partition(|(w, _)| w.len() >= FINGERPRINT);
        let (anchors, anchored) = anchored_words(&long, list.in_context);
        let mut config = packed::Config::new();
        config.match_kind(packed::MatchKind::LeftmostFirst);
        let mut builder = config.builder();
        for anchor in &anchors {
            builder.add(anchor);
        }
        Prefilter {
            folded: None,
            folded_words: Vec::new(),
            teddy: builder.build(),
            anchored,
            short: short
                .iter()
                .map(|(w, _)| memmem::Finder::new(w.to_ascii_lowercase().as_bytes()).into_owned())
                .collect(),
            // A DFA: when Teddy is unavailable it runs over every byte.
            words: AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .ascii_case_insensitive(true)
                .build(words.iter().map(|(w, _)| w))
                .expect("static patterns"),
            contexts: words
                .iter()
                .map(|(w, _)| Context::of(w, list.in_context))
                .collect(),
        }
    }

    /// Whether one line contains a word (the exact test, one line at a time).
    pub fn is_match(&self, line: &[u8]) -> bool {
        self.words
            .find_overlapping_iter(line)
            .any(|m| self.contexts[m.pattern().as_usize()].holds(line, m.start(), m.end()))
    }

    /// Where in `lower` (`text` lowercased) at or after `from` the next anchor stands in one
    /// of its words.
    /// No word holds a newline, so the word lies in the line of the anchor.
    fn next_word(
        &self,
        teddy: &packed::Searcher,
        text: &[u8],
        lower: &[u8],
        mut from: usize,
    ) -> Option<usize> {
        loop {
            let m = teddy.find_in(lower, Span::from(from..lower.len()))?;
            let at = m.start();
            if word_at(&self.anchored[m.pattern().as_usize()], text, at) {
                return Some(at);
            }
            from = at + 1;
        }
    }

    /// Runs `each` over the lines of `chunk` (split at `\n`, the last one possibly without
    /// it) with their index and whether they contain a word; returns how many newlines the
    /// chunk holds (the index of its last line).
    pub fn scan_lines(&self, chunk: &[u8], mut each: impl FnMut(usize, &[u8], bool)) -> u64 {
        if let Some(folded) = &self.folded {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: an `Anchors` exists only where the CPU has the features
                // `scan_folded` is compiled for (see `folded`).
                return unsafe { self.scan_folded(folded, chunk, &mut each) };
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                let ends = memchr::memchr_iter(b'\n', chunk);
                return self.walk_folded(folded, chunk, ends, &mut each);
            }
        }
        let ends = memchr::memchr_iter(b'\n', chunk).chain(std::iter::once(chunk.len()));
        let mut last = 0;
        let Some(teddy) = &self.teddy else {
            let mut start = 0;
            for (i, end) in ends.enumerate() {
                last = i;
                let line = &chunk[start..end];
                each(i, line, self.is_match(line));
                start = end + 1;
            }
            return last as u64;
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
                last = i;
                let line = &chunk[start..end];
                // Every cursor moves past this line, so none searches a line twice.
                let mut hit =
                    long.hit(start, end, |from| self.next_word(teddy, chunk, lower, from));
                for (cursor, finder) in short.iter_mut().zip(&self.short) {
                    hit |= cursor.hit(start, end, |from| {
                        finder.find(&lower[from..]).map(|at| from + at)
                    });
                }
                each(i, line, hit);
                start = end + 1;
            }
        });
        last as u64
    }
}

impl Prefilter {
    /// [`Prefilter::scan_lines`] with the byte-table search, compiled for AVX-512 so that
    /// the newline masks of [`folded::Newlines`] are computed in line, 64 bytes a step: a
    /// search for each line's end started afresh per line and was the run's second
    /// largest cost after the search for words.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn scan_folded(
        &self,
        folded: &folded::Anchors,
        chunk: &[u8],
        each: &mut impl FnMut(usize, &[u8], bool),
    ) -> u64 {
        self.walk_folded(folded, chunk, folded.newlines(chunk), each)
    }

    /// The lines of `chunk`, whose `\n`s are `newlines`, each with whether the byte-table
    /// search finds a word in it.
    #[inline(always)]
    fn walk_folded(
        &self,
        folded: &folded::Anchors,
        chunk: &[u8],
        newlines: impl Iterator<Item = usize>,
        each: &mut impl FnMut(usize, &[u8], bool),
    ) -> u64 {
        let mut cursor = Cursor::default();
        let mut start = 0;
        let mut last = 0;
        for (i, end) in newlines.chain(std::iter::once(chunk.len())).enumerate() {
            last = i;
            let hit = cursor.hit(start, end, |from| {
                folded.find(chunk, from, |at, anchor| {
                    word_at(&self.folded_words[anchor], chunk, at)
                })
            });
            each(i, &chunk[start..end], hit);
            start = end + 1;
        }
        last as u64
    }
}

/// The distinct anchors of `words` (lowercase), and per anchor the lowercase words holding
/// it with its offset in each: words sharing an anchor (`authorize`, `authorization.`) share
/// one search pattern.
type Anchored = Vec<Vec<(Box<[u8]>, usize, Context)>>;

/// Whether one of `words` (those holding the anchor found at `at` in `text`) stands around
/// it, in any case, and counts there: how every searcher confirms an anchor.
#[inline(always)]
fn word_at(words: &[(Box<[u8]>, usize, Context)], text: &[u8], at: usize) -> bool {
    words.iter().any(|(w, off, context)| {
        at >= *off
            && text
                .get(at - off..at - off + w.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(w))
            && context.holds(text, at - off, at - off + w.len())
    })
}

fn anchored_words(
    words: &[(&str, &str)],
    in_context: &[(&str, Context)],
) -> (Vec<String>, Anchored) {
    let mut anchors: Vec<String> = Vec::new();
    let mut anchored: Anchored = Vec::new();
    for (word, anchor) in words {
        let (word, anchor) = (word.to_ascii_lowercase(), anchor.to_ascii_lowercase());
        let offset = word
            .find(&anchor)
            .expect("an anchor is a piece of its word");
        let context = Context::of(&word, in_context);
        let entry = (word.into_bytes().into_boxed_slice(), offset, context);
        match anchors.iter().position(|a| *a == anchor) {
            Some(i) => anchored[i].push(entry),
            None => {
                anchors.push(anchor);
                anchored.push(vec![entry]);
            }
        }
    }
    (anchors, anchored)
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
    use proptest::strategy::Strategy;

    /// `benches/compare.sh` times `rg -i -F -f` with these files: the prefilter's question
    /// asked of ripgrep.
    #[test]
    fn the_bench_word_lists_are_the_prefilter_words() {
        for (file, words) in [
            (include_str!("../../../benches/log-words.txt"), LOG_WORDS),
            (
                include_str!("../../../benches/access-words.txt"),
                ACCESS_WORDS,
            ),
        ] {
            let listed: Vec<&str> = file.lines().collect();
            let ours: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
            assert_eq!(listed, ours);
        }
    }

    #[test]
    fn every_anchor_is_a_piece_of_its_word_and_no_word_spans_lines() {
        for (word, anchor) in LOG_WORDS.iter().chain(ACCESS_WORDS) {
            assert!(word.contains(anchor), "{anchor:?} is not in {word:?}");
            assert!(anchor.len() >= FINGERPRINT || anchor == word, "{word:?}");
            assert!(!word.contains('\n'));
        }
    }

    #[test]
    fn words_in_context_are_searched_words() {
        for list in [&LOG_LIST, &ACCESS_LIST] {
            for (word, _) in list.in_context {
                let (_, anchor) = list
                    .words
                    .iter()
                    .find(|(w, _)| w == word)
                    .expect("a word of its list");
                // Confirmed where Teddy finds its anchor; the short words have no confirming.
                assert!(word.len() >= FINGERPRINT && anchor.len() >= FINGERPRINT);
            }
        }
    }

    #[test]
    fn words_in_context_count_only_there() {
        let pass = [
            r#"{"code": "SplxlOBeZQQYbYS6WxSbIA", "msg": "x"}"#,
            r#"{"code":"5d8c3f0e2a9b41c7e6f0"}"#,
            r#"{"details":{"code":"*************Hq7"}}"#,
            r#"{"code" : "ABC\"DEF"}"#,
            r#"{"code": "ABCDEFGHJKLMNPQRSTUVWXYZ2"}"#,
            r#"{"code": {"value": 1}}"#,
            r#"{"code": "UNTERMINATED"#,
            r#"the "code" parameter is missing"#,
            r#"{"CODE": "lowercase-or-not"}"#,
            "verifier lost: code_verifier=",
            r#"{"type":"CODE_TO_TOKEN_ERROR"}"#,
            r#""code_challenge": 1"#,
            "x&code_challenge=y",
            "grant_type=refresh_token",
            "at com.google.auth.oauth2.UserCredentials.refreshAccessToken(UserCredentials.java:1)",
            "token refresh (attempt 2) failed",
            r#"{"msg":"session.refresh() failed","err":"Request failed with status code 400"}"#,
            "at Session.refresh (/srv/app/session.js:10:5)",
            "calling refresh(token) again",
            r#"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED"}}"#,
            r#"{"msg":"upstream rejected","code":403,"error":"Forbidden"}"#,
            r#"{"code": null, "error": "x"}"#,
            r#"{"error":{"code":"PERMISSION_DENIED"}}"#,
            r#"{"event":"oauth.refresh.error"}"#,
        ];
        let fail = [
            r#"{"code": "SPRING24", "page_size": 50}"#,
            r#"{"code":"NONE"}"#,
            r#"{"code":""}"#,
            r#"{"code": "ABCDEFGHJKLMNPQRSTUVWXYZ"}"#,
            "cursor = decode_page_token(args)",
            "barcode_scan finished",
            "\tat org.springframework.context.support.AbstractApplicationContext.refresh(AbstractApplicationContext.java:583)",
            "at com.example.shipping.QuoteService.refresh(QuoteService.java:64)",
            "\tat org.hibernate.internal.SessionImpl.refresh(Unknown Source)",
            "at sun.Cache.REFRESH(Native Method)",
        ];
        pass_and_fail(false, &pass, &fail);
        // A word that does not count leaves the rest of the line to be searched.
        let line = r#"{"code": "SPRING24", "grant_type": "x"}"#;
        assert!(Prefilter::get(false).is_match(line.as_bytes()));
    }

    /// Each of `pass` passes and each of `fail` fails, by the per-line test and by the
    /// chunk scan, with and without the byte-table search.
    fn pass_and_fail(access: bool, pass: &[&str], fail: &[&str]) {
        let list = if access { &ACCESS_LIST } else { &LOG_LIST };
        for pf in [Prefilter::get(access), &Prefilter::without_vbmi(list)] {
            for (lines, want) in [(pass, true), (fail, false)] {
                for line in lines {
                    assert_eq!(pf.is_match(line.as_bytes()), want, "{line}");
                    pf.scan_lines(line.as_bytes(), |_, _, hit| assert_eq!(hit, want, "{line}"));
                }
            }
        }
    }

    #[test]
    fn an_access_log_s_code_counts_only_beside_a_companion() {
        let pass = [
            r#"10.0.0.1 - - [24/Nov/2026:06:26:42 +0000] "GET /cb?code=Xy1&state=s1 HTTP/1.1" 302 0"#,
            r#""GET /cb?state=s1&CODE=Xy1 HTTP/1.1""#,
            "GET https://app.example:443/cb?code=Xy1&iss=https%3A%2F%2Fidp HTTP/1.1",
            "GET /cb?code=Xy1&session_state=abc",
            "GET /cb?code=Xy1&st%61te=s1",
            "GET /cb#code=Xy1&state=s1",
            "GET /cb?code=Xy1\tstate=s1 and then /other?x=1&state=2 client_id=c",
        ];
        let fail = [
            r#"10.0.0.1 - - [24/Nov/2026:06:26:42 +0000] "GET /promo?code=SPRING24 HTTP/1.1" 200 512"#,
            r#""GET /unsubscribe?code=7f3a HTTP/1.1" 200 10 "https://mail.example/?state=x""#,
            "GET /shop?promo_code=X&state=shipped",
            "GET /scan?barcode=1&state=2",
            "GET /cb?code=Xy1&statement=s1",
        ];
        pass_and_fail(true, &pass, &fail);
        // In application logs a `code=` counts anywhere: a message may name it alone.
        assert!(Prefilter::get(false).is_match(b"exchanging code=Xy1 failed"));
        // A URL of a hundred thousand `code=` keys: each reads only as far as its neighbours
        // (reading to the URL's ends, each would read all 700 KB of it), and the one before
        // the companion finds it.
        let many = format!("GET /x?{}", "&code=1".repeat(100_000));
        assert!(!Prefilter::get(true).is_match(many.as_bytes()));
        assert!(Prefilter::get(true).is_match(format!("{many}&state=s").as_bytes()));
    }

    /// A line passes by its `code=` keys exactly when some URL of it has a `code=` key and a
    /// companion key, as `http::may_be_oauth` reads a URL: each `code=` looking only as far
    /// as its neighbours loses no line.
    fn some_url_has_code_and_companion(line: &[u8]) -> bool {
        line.split(|&b| ends_url(b)).any(|url| {
            let pieces: Vec<&[u8]> = url.split(|&b| starts_key(b)).skip(1).collect();
            pieces
                .iter()
                .any(|p| p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"code="))
                && pieces
                    .iter()
                    .map(|p| p.split(|&b| b == b'=').next().unwrap_or_default())
                    .any(|k| {
                        [&b"state"[..], b"iss", b"session_state"]
                            .iter()
                            .any(|c| k.eq_ignore_ascii_case(c))
                            || k.contains(&b'%')
                    })
        })
    }

    #[test]
    fn lines_pass_exactly_when_they_hold_a_word() {
        let text = "noise line\n{\"msg\":\"GRANT request failed\"}\n\nnothing here\n\
                    GET /x?CODE=abc 200\nstate of things\r\n\"State\": 1\nlast Bearer";
        for (access, list) in [(false, &LOG_LIST), (true, &ACCESS_LIST)] {
            for pf in [Prefilter::get(access), &Prefilter::without_vbmi(list)] {
                let mut seen = Vec::new();
                pf.scan_lines(text.as_bytes(), |i, line, pass| {
                    assert_eq!(pass, pf.is_match(line), "line {i}: {line:?}");
                    seen.push(i);
                });
                assert_eq!(seen, (0..8).collect::<Vec<_>>());
            }
        }
    }

    proptest::proptest! {
        /// Teddy over lowercased chunks, the short words apart, the cursors: whatever the
        /// text, a line passes exactly when the per-line automaton finds a word in it.
        #[test]
        fn scan_agrees_with_the_automaton(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(LOG_WORDS).prop_map(|(w, _)| w),
                    proptest::sample::select(ACCESS_WORDS).prop_map(|(w, _)| w),
                    // Anchors alone: Teddy finds them, the word around them decides.
                    proptest::sample::select(LOG_WORDS).prop_map(|(_, a)| a),
                    proptest::sample::select(ACCESS_WORDS).prop_map(|(_, a)| a),
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
            agree(&text, access)?;
        }

        /// The words in context: short lines of little else, so that whether a line passes
        /// turns on what surrounds them, up to the line's ends.
        #[test]
        fn words_in_context_count_alike_everywhere(
            pieces in proptest::collection::vec(
                proptest::sample::select(&[
                    "\"code\"", "\"CODE\"", "code_", "Code_", "refresh", "REFRESH", "(", ")",
                    "F.java", ":", "6", "Unknown Source)", " ", "\t", "\"", "\\", "\n", "\r\n", "SPRING24",
                    "Hq7", "1", "-", "null", "de", "x", "ABCDEFGHIJKLMNOPQRSTUVWXY",
                ][..]),
                0..16,
            ),
        ) {
            agree(pieces.concat().as_bytes(), false)?;
        }

        /// The same for an access log's `code=`, whose context is the rest of its URL.
        #[test]
        fn an_access_log_s_code_counts_alike_everywhere(
            pieces in proptest::collection::vec(
                proptest::sample::select(&[
                    "code=", "CODE=", "code", "?", "&", "#", "=", "state", "iss", "session_state", "%",
                    "x", "_", " ", "\t", "\"", "'", "\n", "\r\n", "/cb",
                ][..]),
                0..24,
            ),
        ) {
            let text = pieces.concat();
            agree(text.as_bytes(), true)?;
            // None of the pieces makes another access word, so `code=` alone decides.
            for line in text.split('\n') {
                let line = line.as_bytes();
                proptest::prop_assert_eq!(
                    Prefilter::get(true).is_match(line),
                    some_url_has_code_and_companion(line),
                    "{:?}", String::from_utf8_lossy(line)
                );
            }
        }
    }

    /// Every line of `text` passes the chunk's scan exactly when the per-line automaton
    /// finds a word that counts in it, with and without the byte-table search.
    fn agree(text: &[u8], access: bool) -> Result<(), proptest::test_runner::TestCaseError> {
        let list = if access { &ACCESS_LIST } else { &LOG_LIST };
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        for pf in [Prefilter::get(access), &Prefilter::without_vbmi(list)] {
            let mut seen = 0;
            pf.scan_lines(text, |i, line, pass| {
                assert_eq!(line, lines[i]);
                assert_eq!(
                    pass,
                    pf.is_match(line),
                    "line {i}: {:?}",
                    String::from_utf8_lossy(line)
                );
                seen += 1;
            });
            proptest::prop_assert_eq!(seen, lines.len());
        }
        Ok(())
    }
}
