//! `clock_skew`: tokens that look issued in the future (or expired on arrival) to the
//! party checking them, because clocks disagree.

use super::*;

pub struct ClockSkew;

impl Rule for ClockSkew {
    fn id(&self) -> &'static str {
        "clock_skew"
    }

    fn check(&self, cx: &Context, fi: usize, out: &mut Vec<Finding>) {
        let flow = &cx.flows[fi];
        let tol = cx
            .spec(self.id())
            .map(|s| s.duration_ms("tolerance"))
            .unwrap_or(30_000);
        let failures: Vec<usize> = flow.failures(cx.events).collect();
        if failures.is_empty() {
            return;
        }
        // Skew visible in tokens issued by this flow: iat / nbf ahead of the observer.
        for &i in &flow.events {
            let e = cx.ev(i);
            let (Some(iss), Some(ts)) = (&e.issued, e.ts) else {
                continue;
            };
            for claims in [&iss.id_token_claims, &iss.access_token_claims]
                .into_iter()
                .flatten()
            {
                let ahead = claims
                    .iat
                    .into_iter()
                    .chain(claims.nbf)
                    .map(|t| t * 1000 - ts)
                    .max()
                    .unwrap_or(0);
                let short = claims
                    .exp
                    .zip(claims.iat)
                    .zip(iss.expires_in)
                    .map(|((exp, iat), ei)| (exp - iat) - ei)
                    .unwrap_or(0);
                if ahead > tol
                    || short.abs() * 1000 > tol && claims.exp.is_some_and(|x| x * 1000 < ts)
                {
                    let later: Vec<usize> = failures
                        .iter()
                        .copied()
                        .filter(|&f| {
                            cx.ev(f).ts >= e.ts
                                && matches!(
                                    cx.ev(f).kind(),
                                    EventKind::ApiCall | EventKind::LogError
                                )
                        })
                        .collect();
                    if later.is_empty() {
                        continue;
                    }
                    let mut f = Finding::new(self.id(), "issued_in_future", 0.85, fi, format!("tokens are stamped {} ahead of the observer's clock (iat/nbf): synchronize clocks (NTP) or allow leeway", secs(ahead))).evidence(i, "token issued with future iat/nbf");
                    for l in later {
                        f = f.explains(l, cx.ev(l).describe());
                    }
                    out.push(f);
                    return;
                }
            }
        }
        for &i in &failures {
            if let Some((Weight::Strong, text, _)) = cx.signature(self.id(), i) {
                out.push(
                    Finding::new(
                        self.id(),
                        "reported",
                        0.74,
                        fi,
                        format!("a token was rejected for its time claims: {text}"),
                    )
                    .explains(i, cx.ev(i).describe()),
                );
            }
        }
    }
}
