//! The message of a rollout that did not become healthy, short enough for a terminal line and
//! the history table however many objects failed: counts per cause with the first few objects
//! of each, then the detail of the first few objects. Every object's own assessment stays in
//! the report's `health` list (`-o json`).

use super::ObjectHealth;
use crate::health::Health;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Objects named per cause in the summary line.
const NAMED_PER_CAUSE: usize = 3;
/// Objects whose own message follows the summary line.
const DETAILED: usize = 3;

/// The failure of `unhealthy` (the objects not healthy when the wait ended, in report order):
/// `(summary line, full message)`. The summary line goes to history; the full message, the
/// summary followed by the first objects' details (a crashed container's log lines only for
/// the first), to the report.
pub(super) fn unhealthy(
    unhealthy: &[&ObjectHealth],
    total: usize,
    timeout: Duration,
) -> (String, String) {
    let failed = unhealthy.iter().any(|h| h.assessment.health >= Health::Degraded);
    // Worst first, then the most common cause, then by name.
    let mut groups: BTreeMap<(Health, &str), Vec<&ObjectHealth>> = BTreeMap::new();
    for object in unhealthy {
        groups
            .entry((object.assessment.health, object.assessment.cause()))
            .or_default()
            .push(object);
    }
    let mut groups: Vec<((Health, &str), Vec<&ObjectHealth>)> = groups.into_iter().collect();
    groups.sort_by(|((ha, ca), a), ((hb, cb), b)| {
        hb.cmp(ha).then(b.len().cmp(&a.len())).then(ca.cmp(cb))
    });
    let causes: Vec<String> = groups
        .iter()
        .map(|((_, cause), objects)| {
            let mut names: Vec<String> =
                objects.iter().take(NAMED_PER_CAUSE).map(|o| short_name(&o.object)).collect();
            if objects.len() > NAMED_PER_CAUSE {
                names.push(format!("… {} more", objects.len() - NAMED_PER_CAUSE));
            }
            format!("{} {cause} ({})", objects.len(), names.join(", "))
        })
        .collect();
    let lead = if failed {
        "rollout failed".to_owned()
    } else {
        format!("not healthy within {}s", timeout.as_secs())
    };
    let summary =
        format!("{lead}: {} of {total} not healthy: {}", unhealthy.len(), causes.join(", "));
    let mut full = summary.clone();
    let ordered = groups.iter().flat_map(|(_, objects)| objects.iter());
    for (index, object) in ordered.clone().take(DETAILED).enumerate() {
        let mut lines = object.assessment.message.lines();
        let first = lines.next().unwrap_or_default();
        let _ =
            write!(full, "\n  {}: {}: {first}", object.object, object.assessment.health.as_str());
        if index == 0 {
            for line in lines {
                let _ = write!(full, "\n  {line}");
            }
        }
    }
    if unhealthy.len() > DETAILED {
        let _ = write!(
            full,
            "\n  … {} more; the report's health list (-o json) has every object",
            unhealthy.len() - DETAILED
        );
    }
    (summary, full)
}

/// `Deployment/web` from `Deployment.apps dev/web`.
fn short_name(object: &str) -> String {
    let (kind, rest) = object.split_once(' ').unwrap_or(("", object));
    let kind = kind.split('.').next().unwrap_or(kind);
    let name = rest.rsplit('/').next().unwrap_or(rest);
    if kind.is_empty() { name.to_owned() } else { format!("{kind}/{name}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{Assessment, pods::PodProblem};

    fn object(name: &str, assessment: Assessment) -> ObjectHealth {
        ObjectHealth { object: format!("Deployment.apps dev/{name}"), assessment }
    }

    #[test]
    fn many_objects_are_summarised_by_cause() {
        let mut states: Vec<ObjectHealth> = (1..=148)
            .map(|i| {
                object(
                    &format!("web-{i}"),
                    Assessment::new(Health::Progressing, "0 of 1 replicas available"),
                )
            })
            .collect();
        for (name, pod) in [("api", "api-7d9f-x2k4q"), ("worker", "worker-5c6b-p9z7m")] {
            let problem = PodProblem {
                pod: pod.to_owned(),
                container: Some("app".to_owned()),
                reason: "CrashLoopBackOff".to_owned(),
                restarts: 4,
                message: "back-off 40s restarting failed container".to_owned(),
                log: Some(
                    "loading model\nTraceback (most recent call last):\nKeyError: 'MODEL_PATH'\n"
                        .to_owned(),
                ),
            };
            states.push(object(name, problem.assessment()));
        }
        let refs: Vec<&ObjectHealth> = states.iter().collect();
        let (summary, full) = unhealthy(&refs, 151, Duration::from_mins(5));
        assert!(!summary.contains('\n') && summary.len() < 200, "{summary}");
        insta::assert_snapshot!(full);

        let progressing: Vec<&ObjectHealth> = refs[..148].to_vec();
        let (summary, _) = unhealthy(&progressing, 150, Duration::from_mins(5));
        insta::assert_snapshot!("timeout_summary", summary);
    }
}
