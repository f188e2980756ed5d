//! HAR 1.2 / 1.3 captures (Chrome, Firefox, mitmproxy, Charles, Playwright, ...).
//!
//! Producers differ: mitmproxy writes both `postData.params` and `postData.text`, Chrome
//! strips cookies and Authorization by default, failed entries have status 0 and an
//! `_error`, bodies may be base64. Everything is optional here; an entry we cannot read
//! is counted as skipped with its index, and the rest of the file goes on.

use super::http::{classify, HttpExchange, Pair, ResponseBody};
use super::json_skip::{skip_string, skip_value};
use super::time::{parse_time, start_micros, MAX_SPAN};
use super::InputReport;
use crate::event::*;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::Arc;

/// The document is first split into entries without building them (each is a raw slice of
/// the mapped file), then entries are read in parallel and dropped one by one: a 300 MB
/// capture full of HTML bodies never exists as one tree in memory.
#[derive(Deserialize)]
struct Har<'a> {
    #[serde(borrow)]
    log: Log<'a>,
}

#[derive(Deserialize)]
struct Log<'a> {
    #[serde(default, borrow)]
    entries: Vec<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Entry<'a> {
    started_date_time: String,
    time: Option<f64>,
    #[serde(borrow)]
    request: Request<'a>,
    #[serde(borrow)]
    response: Response<'a>,
    #[serde(rename = "_error")]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Request<'a> {
    method: String,
    url: String,
    #[serde(borrow)]
    headers: Vec<NameValue<'a>>,
    #[serde(borrow)]
    post_data: Option<PostData<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PostData<'a> {
    mime_type: String,
    #[serde(borrow)]
    params: Vec<NameValue<'a>>,
    text: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Response<'a> {
    status: Option<f64>,
    /// -1 where unknown.
    #[serde(rename = "bodySize")]
    body_size: Option<f64>,
    #[serde(borrow)]
    headers: Vec<NameValue<'a>>,
    #[serde(borrow)]
    content: Content<'a>,
    #[serde(rename = "redirectURL")]
    redirect_url: Option<String>,
}

/// A response body, borrowed from the capture until it is known to be wanted: most bodies
/// of a capture (pages, scripts, images) are never read.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Content<'a> {
    #[serde(borrow)]
    text: Option<JsonString<'a>>,
    encoding: Option<String>,
    mime_type: String,
}

/// A JSON string literal as written (quotes and escapes), borrowed from the capture: a
/// body is unescaped only if it is read ([`ResponseBody`]). Anything but a string is refused
/// as a parser would refuse it.
struct JsonString<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for JsonString<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(d)?.get();
        if raw.starts_with('"') {
            Ok(JsonString(raw))
        } else {
            Err(serde::de::Error::invalid_type(
                serde::de::Unexpected::Other(raw.get(..1).unwrap_or("?")),
                &"a string",
            ))
        }
    }
}

/// A header or form parameter, borrowed from the capture where it needed no unescaping: a
/// capture holds a dozen or more per entry, and copying each was an allocation apiece.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NameValue<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

pub fn sniff(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    t.starts_with('{')
        && text.contains("\"log\"")
        && (text.contains("\"entries\"")
            || text.contains("\"creator\"")
            || text.contains("\"version\""))
}

/// What reading one entry gave: its events, or why it could not be read.
type EntryResult = Result<Vec<Event>, String>;

pub fn parse(file: &Arc<str>, bytes: &[u8], report: &mut InputReport) -> Vec<Event> {
    let read = |i: usize, raw: &[u8]| -> EntryResult {
        let entry: Entry = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        let src = Source::new(file.clone(), Locator::Entry(i as u64));
        Ok(classify(&to_exchange(entry), &src))
    };
    let parsed = match split_and_read(bytes, &read) {
        Some(parsed) => parsed,
        None => {
            let entries: Vec<&[u8]> = match serde_json::from_slice::<Har<'_>>(bytes) {
                Ok(h) => h.log.entries.iter().map(|r| r.get().as_bytes()).collect(),
                Err(e) => {
                    // A truncated capture still holds complete entries before the cut:
                    // salvage them.
                    let salvaged = salvage_entries(bytes);
                    report.problem(
                        0,
                        format!(
                            "not a complete HAR document ({e}); {} complete entries recovered",
                            salvaged.len()
                        ),
                    );
                    report.skipped += 1;
                    salvaged.iter().map(|r| r.get().as_bytes()).collect()
                }
            };
            entries
                .par_iter()
                .enumerate()
                .map(|(i, raw)| read(i, raw))
                .collect()
        }
    };
    let mut out = Vec::new();
    for (i, r) in parsed.into_iter().enumerate() {
        report.records += 1;
        match r {
            Ok(evs) => {
                report.events += evs.len() as u64;
                out.extend(evs);
            }
            Err(e) => {
                report.skipped += 1;
                report.problem_entry(i as u64, format!("unreadable HAR entry: {e}"));
            }
        }
    }
    out
}

/// Splits the capture into entries ([`split_entries`]) and reads them on the other
/// threads while the split goes on: the split is the one serial step, so the entries
/// found first are being read while it looks for the rest. None when the split fails;
/// what was read by then is dropped.
fn split_and_read<'b>(
    bytes: &'b [u8],
    read: &(dyn Fn(usize, &[u8]) -> EntryResult + Sync),
) -> Option<Vec<EntryResult>> {
    /// Entries handed to a thread at once: enough that the hand-off costs nothing.
    const BATCH: usize = 256;
    let done: std::sync::Mutex<Vec<(usize, Vec<EntryResult>)>> = Default::default();
    let mut count = 0;
    let split = rayon::scope(|scope| {
        let done = &done;
        let mut batch: Vec<&'b [u8]> = Vec::with_capacity(BATCH);
        let hand_off = |batch: Vec<&'b [u8]>, first: usize| {
            scope.spawn(move |_| {
                let results = batch
                    .iter()
                    .enumerate()
                    .map(|(k, raw)| read(first + k, raw))
                    .collect();
                if let Ok(mut d) = done.lock() {
                    d.push((first, results));
                }
            });
        };
        let split = split_entries(bytes, |raw| {
            batch.push(raw);
            count += 1;
            if batch.len() == BATCH {
                hand_off(
                    std::mem::replace(&mut batch, Vec::with_capacity(BATCH)),
                    count - BATCH,
                );
            }
        });
        if split.is_some() && !batch.is_empty() {
            let first = count - batch.len();
            hand_off(batch, first);
        }
        split
    });
    split?;
    let mut batches = done.into_inner().ok()?;
    batches.sort_unstable_by_key(|(first, _)| *first);
    let parsed: Vec<EntryResult> = batches.into_iter().flat_map(|(_, r)| r).collect();
    (parsed.len() == count).then_some(parsed)
}

fn to_exchange(e: Entry<'_>) -> HttpExchange<'_> {
    // RFC 3339 (what HARs write) is read once, to the microsecond; anything else as any time.
    let start_us = start_micros(&e.started_date_time);
    let ts = start_us
        .map(|us| us.div_euclid(1000))
        .or_else(|| parse_time(&e.started_date_time));
    let took = e
        .time
        .filter(|x| x.is_finite() && *x > 0.0 && *x <= MAX_SPAN as f64)
        .unwrap_or(0.0);
    // The end from the start and the duration as written, to the microsecond, before it is
    // cut to the millisecond: two requests of one client that start and end within the same
    // millisecond or two end in the order a proxy logged them only so, and that order is
    // what pairs their byte-identical access-log lines.
    let end_ts = match start_us {
        Some(us) => Some((us + (took * 1000.0) as i64).div_euclid(1000)),
        None => ts.map(|t| t + took as i64),
    };
    let status = e
        .response
        .status
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1000.0)
        .map(|s| s as u16);
    let no_response =
        status.is_none_or(|s| s == 0) || e.error.is_some() && status.is_none_or(|s| s == 0);
    let headers: Vec<Pair> = e
        .request
        .headers
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    let resp_headers: Vec<Pair> = e
        .response
        .headers
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    let location = e
        .response
        .redirect_url
        .filter(|s| !s.is_empty())
        .or_else(|| {
            resp_headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.to_string())
        });
    let mut form = Vec::new();
    let mut body_json = false;
    if let Some(pd) = e.request.post_data {
        let text = pd.text.unwrap_or_default();
        let t = text.trim_start();
        if pd.mime_type.contains("json") || t.starts_with('{') {
            body_json = true;
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(t) {
                for (k, v) in m {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    form.push((k.into(), v.into()));
                }
            }
        } else if !t.is_empty() {
            form.extend(
                form_urlencoded::parse(text.as_bytes())
                    .map(|(k, v)| (k.into_owned().into(), v.into_owned().into())),
            );
        } else {
            form.extend(pd.params.into_iter().map(|p| {
                let k = form_urlencoded::parse(format!("k={}", p.name).as_bytes())
                    .next()
                    .map(|x| Cow::Owned(x.1.into_owned()))
                    .unwrap_or(p.name);
                (k, p.value)
            }));
        }
    }
    let resp_bytes = e
        .response
        .body_size
        .filter(|b| *b >= 0.0 && b.fract() == 0.0)
        .map(|b| b as u64);
    let content = e.response.content;
    let body = match content.text {
        // Images, fonts and other media hold no OAuth text.
        Some(_) if is_media(&content.mime_type) => None,
        Some(t) if content.encoding.as_deref() == Some("base64") => {
            Some(ResponseBody::Base64Json(t.0))
        }
        t => t.map(|t| ResponseBody::Json(t.0)),
    };
    // The proxy's request id, as the client sent it or as the proxy echoed it back: the
    // key that ties this entry to the proxy's and the provider's log lines.
    let request_id = headers
        .iter()
        .chain(resp_headers.iter())
        .find(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
        .map(|(_, v)| v.clone());
    HttpExchange {
        ts,
        end_ts,
        method: Some(e.request.method.into()),
        url: e.request.url.into(),
        host: None,
        form,
        body_json,
        body_visible: true,
        req_headers: headers,
        status: status.filter(|s| *s != 0),
        no_response,
        location,
        resp_headers,
        resp_body: body,
        resp_bytes,
        request_id,
        trace_id: None,
    }
}

/// A MIME type of pictures, sound, video or fonts.
fn is_media(mime: &str) -> bool {
    let m = mime.trim_start().to_ascii_lowercase();
    ["image/", "audio/", "video/", "font/"]
        .iter()
        .any(|p| m.starts_with(p))
}

/// The text of each element of `log.entries`, found by following the document's structure
/// (strings, brackets) without parsing it: the split is the one serial step of reading a
/// HAR, and a parser validating every byte of every body made it most of the time. Each
/// entry is parsed properly later, in parallel. None when the document is not plainly
/// a HAR (cut short, duplicate or escaped keys, entries that are not objects): the full
/// parser then says what is wrong and salvages what it can.
fn split_entries<'b>(b: &'b [u8], mut entry: impl FnMut(&'b [u8])) -> Option<()> {
    let mut found = false;
    let end = object_members(b, skip_ws(b, 0), |key, at| {
        if key != b"log" {
            return skip_value(b, at);
        }
        object_members(b, at, |key, at| {
            if key != b"entries" {
                return skip_value(b, at);
            }
            if found || b.get(at) != Some(&b'[') {
                return None;
            }
            found = true;
            array_elements(b, at, &mut entry)
        })
    })?;
    (skip_ws(b, end) == b.len()).then_some(())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// Walks the members of the object opening at `i`, handing each key (raw, unescaped keys
/// only) and the position of its value to `member`, which returns the value's end.
/// Returns the end of the object; None on anything unexpected or a key seen twice.
fn object_members(
    b: &[u8],
    i: usize,
    mut member: impl FnMut(&[u8], usize) -> Option<usize>,
) -> Option<usize> {
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Some(j + 1);
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(b, j)?;
        let key = &b[j + 1..key_end - 1];
        if key.contains(&b'\\') || seen.contains(&key) {
            return None;
        }
        seen.push(key);
        j = skip_ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(b, member(key, skip_ws(b, j + 1))?);
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b'}' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// Hands each element of the array opening at `i` (objects and arrays only) to `element`;
/// returns the array's end.
fn array_elements<'b>(b: &'b [u8], i: usize, element: &mut impl FnMut(&'b [u8])) -> Option<usize> {
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b']') {
        return Some(j + 1);
    }
    loop {
        if !matches!(b.get(j), Some(b'{') | Some(b'[')) {
            return None;
        }
        let end = skip_value(b, j)?;
        element(&b[j..end]);
        j = skip_ws(b, end);
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b']' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// Recovers the complete entry objects of a truncated HAR: scans `"entries": [` and parses
/// one JSON value after another until the data ends.
fn salvage_entries(bytes: &[u8]) -> Vec<&RawValue> {
    let Some(pos) = memchr::memmem::find(bytes, b"\"entries\"") else {
        return Vec::new();
    };
    let Some(open) = bytes[pos..].iter().position(|&b| b == b'[') else {
        return Vec::new();
    };
    let mut rest = &bytes[pos + open + 1..];
    let mut out = Vec::new();
    loop {
        let skip = rest
            .iter()
            .position(|b| !b" \t\r\n,".contains(b))
            .unwrap_or(rest.len());
        rest = &rest[skip..];
        if rest.first() != Some(&b'{') {
            break;
        }
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<&RawValue>();
        match stream.next() {
            Some(Ok(v)) => {
                let used = stream.byte_offset();
                out.push(v);
                rest = &rest[used..];
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the full parser takes as the entries, for comparison.
    fn split(doc: &[u8]) -> Option<Vec<&[u8]>> {
        let mut out = Vec::new();
        split_entries(doc, |e| out.push(e))?;
        Some(out)
    }

    fn by_serde(doc: &str) -> Option<Vec<&[u8]>> {
        let h: Har<'_> = serde_json::from_str(doc).ok()?;
        Some(h.log.entries.iter().map(|r| r.get().as_bytes()).collect())
    }

    /// Two revocations of one client, recorded by mitmproxy (sixteenth C25 / C26): the
    /// second started 0.8 ms later and ended 0.25 ms sooner. Their ends, cut to the
    /// millisecond only once, keep that order.
    #[test]
    fn an_end_is_cut_to_the_millisecond_once() {
        let end = |started: &str, time: f64| {
            let raw = format!(
                r#"{{"startedDateTime":"{started}","time":{time},"request":{{"method":"POST","url":"https://login.example.test/token/revocation"}},"response":{{"status":200}}}}"#
            );
            let entry: Entry = serde_json::from_str(&raw).expect("an entry");
            to_exchange(entry).end_ts.expect("an end")
        };
        let first = end("2026-11-27T02:19:30.707834+00:00", 55.35006523132324);
        let second = end("2026-11-27T02:19:30.708637+00:00", 54.294586181640625);
        assert_eq!(first % 1000, 763);
        assert_eq!(second % 1000, 762);
        // A start in whole seconds: the duration alone, cut once.
        assert_eq!(end("2026-11-27T02:19:30Z", 1.9) % 1000, 1);
    }

    #[test]
    fn the_split_finds_what_the_parser_finds() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let mut hars = 0;
        for f in walkdir::WalkDir::new(dir).into_iter().flatten() {
            if f.path().extension().is_some_and(|e| e == "har") {
                let doc = std::fs::read_to_string(f.path()).unwrap();
                assert_eq!(
                    split(doc.as_bytes()),
                    by_serde(&doc),
                    "{}",
                    f.path().display()
                );
                hars += 1;
            }
        }
        assert!(hars > 5);
        for doc in [
            r#"{"log":{"entries":[]}}"#,
            r#" {"log" : {"version":"1.2","entries" : [ {"a":"]}\"{["} , [1,{"b":[]}] ] ,"x":null} } "#,
            r#"{"pages":[{"entries":[{"x":1}]}],"log":{"creator":{"entries":"no"},"entries":[{"y":"\\"}]}}"#,
            r#"{"log":{}}"#,
        ] {
            assert_eq!(split(doc.as_bytes()), by_serde(doc), "{doc}");
            assert!(split(doc.as_bytes()).is_some(), "{doc}");
        }
        // Left to the full parser: cut short, trailing text, keys it would read differently,
        // elements that are not containers.
        for doc in [
            r#"{"log":{"entries":[{"a":1},{"b":"#,
            r#"{"log":{"entries":[]}} x"#,
            r#"{"log":{"entries":[],"entries":[{"a":1}]}}"#,
            r#"{"l\u006fg":{"entries":[{"a":1}]}}"#,
            r#"{"log":{"entries":[1,2]}}"#,
            r#"{"log":{"entries":null}}"#,
            r#"["log"]"#,
        ] {
            assert_eq!(split(doc.as_bytes()), None, "{doc}");
        }
    }
}
