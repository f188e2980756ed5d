//! `access_denied`: the user or a policy said no (cancel, consent refused, or prompt=none
//! without a session). Low severity: often not a bug, but a spike is worth knowing.

use super::*;

pub struct AccessDenied;

impl Rule for AccessDenied {
    fn id(&self) -> &'static str {
        "access_denied"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let authorizes = cx.of_kind(flow, EventKind::Authorize);
        let prompt_none = authorizes
            .iter()
            .any(|&a| cx.ev(a).prompt.as_deref() == Some("none"));
        for &i in &flow.events {
            let e = cx.ev(i);
            if !matches!(
                e.kind(),
                EventKind::Callback | EventKind::Authorize | EventKind::LogError
            ) || !e.is_failure()
            {
                continue;
            }
            let err = e.error.as_deref().unwrap_or("");
            let variant = match err {
                "access_denied" => "user_denied",
                "consent_required" => "consent_required",
                "login_required" => "login_required",
                "interaction_required" | "account_selection_required" => "interaction_required",
                _ => match cx.signature(self.id(), i) {
                    Some((Weight::Strong, _, v)) => {
                        let v = v.unwrap_or_else(|| "user_denied".into());
                        out.push(
                            Finding::new(
                                self.id(),
                                &v,
                                0.75,
                                fi,
                                format!(
                                    "authorization refused: {}",
                                    e.error_description
                                        .as_deref()
                                        .or(e.detail.as_deref())
                                        .unwrap_or(err)
                                ),
                            )
                            .explains(i, e.describe()),
                        );
                        continue;
                    }
                    _ => continue,
                },
            };
            let summary = match variant {
                "user_denied" => format!(
                    "the user (or a policy) refused the authorization: {}",
                    e.error_description.as_deref().unwrap_or("access_denied")
                ),
                _ if prompt_none => {
                    format!("silent authorization (prompt=none) needs user interaction: {err}")
                }
                _ => format!("the authorization server needs user interaction: {err}"),
            };
            let mut f =
                Finding::new(self.id(), variant, 0.9, fi, summary).explains(i, e.describe());
            for a in authorizes
                .iter()
                .copied()
                .filter(|&a| cx.ev(a).ts <= e.ts)
                .take(2)
            {
                f = f.evidence(a, "authorization request");
            }
            out.push(f);
        }
    }
}
