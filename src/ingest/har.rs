//! HAR 1.2 / 1.3 captures (Chrome, Firefox, mitmproxy, Charles, Playwright, ...).
//!
//! Producers differ: mitmproxy writes both `postData.params` and `postData.text`, Chrome
//! strips cookies and Authorization by default, failed entries have status 0 and an
//! `_error`, bodies may be base64. Everything is optional here; an entry we cannot read
//! is counted as skipped with its index, and the rest of the file goes on.

use super::http::{classify, HttpExchange};
use super::time::{parse_time, MAX_SPAN};
use super::InputReport;
use crate::event::*;
use base64::Engine;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
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
struct Entry {
    started_date_time: String,
    time: Option<f64>,
    request: Request,
    response: Response,
    #[serde(rename = "_error")]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Request {
    method: String,
    url: String,
    headers: Vec<NameValue>,
    post_data: Option<PostData>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PostData {
    mime_type: String,
    params: Vec<NameValue>,
    text: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Response {
    status: Option<f64>,
    headers: Vec<NameValue>,
    content: Content,
    #[serde(rename = "redirectURL")]
    redirect_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Content {
    text: Option<String>,
    encoding: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameValue {
    name: String,
    value: String,
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

pub fn parse(file: &Arc<str>, bytes: &[u8], report: &mut InputReport) -> Vec<Event> {
    let entries: Vec<&RawValue> = match serde_json::from_slice::<Har<'_>>(bytes) {
        Ok(h) => h.log.entries,
        Err(e) => {
            // A truncated capture still holds complete entries before the cut: salvage them.
            let salvaged = salvage_entries(bytes);
            report.problem(
                0,
                format!(
                    "not a complete HAR document ({e}); {} complete entries recovered",
                    salvaged.len()
                ),
            );
            report.skipped += 1;
            salvaged
        }
    };
    let parsed: Vec<Result<Vec<Event>, String>> = entries
        .par_iter()
        .enumerate()
        .map(|(i, raw)| {
            let entry: Entry = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            let src = Source {
                file: file.clone(),
                loc: Locator::Entry(i as u64),
            };
            Ok(classify(&to_exchange(entry), &src))
        })
        .collect();
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

fn to_exchange(e: Entry) -> HttpExchange {
    let ts = parse_time(&e.started_date_time);
    let end_ts = ts.map(|t| {
        t + e
            .time
            .filter(|x| x.is_finite() && *x > 0.0 && *x <= MAX_SPAN as f64)
            .unwrap_or(0.0) as i64
    });
    let status = e
        .response
        .status
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1000.0)
        .map(|s| s as u16);
    let no_response =
        status.is_none_or(|s| s == 0) || e.error.is_some() && status.is_none_or(|s| s == 0);
    let headers: Vec<(String, String)> = e
        .request
        .headers
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    let resp_headers: Vec<(String, String)> = e
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
                .map(|(_, v)| v.clone())
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
                    form.push((k, v));
                }
            }
        } else if !t.is_empty() {
            form.extend(form_urlencoded::parse(text.as_bytes()).into_owned());
        } else {
            form.extend(pd.params.into_iter().map(|p| {
                let k = form_urlencoded::parse(format!("k={}", p.name).as_bytes())
                    .next()
                    .map(|x| x.1.into_owned())
                    .unwrap_or(p.name);
                (k, p.value)
            }));
        }
    }
    let body = e.response.content.text.map(|t| {
        if e.response.content.encoding.as_deref() == Some("base64") {
            base64::engine::general_purpose::STANDARD
                .decode(t.trim())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        } else {
            t
        }
    });
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
        method: Some(e.request.method),
        url: e.request.url,
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
        request_id,
        trace_id: None,
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
