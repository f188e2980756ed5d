//! ASCII case-insensitive tests on text, shared by the readers and the scrubber. Words and
//! paths in logs come in any case, and lowercasing a copy to test them cost a copy per line.

/// Whether `text` holds `word`, ignoring ASCII case (an empty word is in every text).
pub fn contains_ignoring_case(text: &str, word: &str) -> bool {
    let (t, w) = (text.as_bytes(), word.as_bytes());
    let Some(&first) = w.first() else {
        return true;
    };
    // Candidates are where the word's first byte is, in either case: memchr finds them.
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), t).any(|i| {
        t.get(i..i + w.len())
            .is_some_and(|c| c.eq_ignore_ascii_case(w))
    })
}

/// Whether `text` ends with `word`, ignoring ASCII case.
pub fn ends_with_ignoring_case(text: &str, word: &str) -> bool {
    let (t, w) = (text.as_bytes(), word.as_bytes());
    t.len() >= w.len() && t[t.len() - w.len()..].eq_ignore_ascii_case(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests say what lowercasing copies of both sides would.
    #[test]
    fn agree_with_lowercased_copies() {
        let texts = [
            "/OAuth2/Token",
            "/me/UserInfo.json",
            "Ünïcode/userinfo",
            "",
            "x",
            "ğ",
        ];
        let words = [
            "userinfo", "/token", "", "x", "json", "ğ", "Token", "o", "2/t",
        ];
        for t in texts {
            for w in words {
                let (lt, lw) = (t.to_ascii_lowercase(), w.to_ascii_lowercase());
                assert_eq!(
                    contains_ignoring_case(t, w),
                    lt.contains(&lw),
                    "{t:?} {w:?}"
                );
                assert_eq!(
                    ends_with_ignoring_case(t, w),
                    lt.ends_with(&lw),
                    "{t:?} {w:?}"
                );
            }
        }
    }
}
