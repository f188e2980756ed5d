//! `login_timeout`: the user took longer between authorize and callback than the login
//! session allows, so the server rejected the late login.

use super::*;

pub struct LoginTimeout;

impl Rule for LoginTimeout {
    fn id(&self) -> &'static str {
        "login_timeout"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let limit = cx
            .spec(self.id())
            .map(|s| s.duration_ms("limit"))
            .filter(|l| *l > 0)
            .unwrap_or(600_000);
        let authorizes = cx.of_kind(flow, EventKind::Authorize);
        for &i in &flow.events {
            let e = cx.ev(i);
            if !e.is_failure()
                || !matches!(
                    e.kind(),
                    EventKind::Callback | EventKind::Authorize | EventKind::LogError
                )
            {
                continue;
            }
            let start = authorizes.iter().copied().find(|&a| {
                a != i && cx.ev(a).ts <= e.ts && (e.state.is_none() || cx.ev(a).state == e.state)
            });
            let waited = start.and_then(|a| e.ts.zip(cx.ev(a).ts).map(|(x, y)| x - y));
            let sig = cx.signature(self.id(), i);
            let (conf, summary) = match (waited, &sig) {
                (Some(w), _) if w > limit && e.error.as_deref() != Some("access_denied") => (0.8, format!("{} passed between the authorization request and this failure; login sessions last {}", secs(w), secs(limit))),
                (w, Some((Weight::Strong, text, _))) => (0.78, format!("the login session expired{}: {text}", w.map(|w| format!(" after {}", secs(w))).unwrap_or_default())),
                _ => continue,
            };
            let mut f =
                Finding::new(self.id(), "slow_login", conf, fi, summary).explains(i, e.describe());
            if let Some(a) = start {
                f = f.evidence(a, "login started");
            }
            out.push(f);
        }
    }
}
