//! Rollout strategies as declared in git: `rollouts:` in `environments/<env>/env.yaml`, one entry
//! per Deployment, and the loader's checks of them (every problem a `file:line` diagnostic).
//!
//! Strategies live in `env.yaml`, not in an annotation on the Deployment, because they are a
//! property of the environment (dev applies at once, prod canaries the same manifest), because
//! structured YAML is checked field by field with the line of each mistake (an annotation value is
//! a string: a YAML-in-a-string loses its lines), and because an annotation would be sent to the
//! cluster and make every change of a step look like a change of the Deployment.

use crate::diagnostic::Diagnostic;
use crate::repo::DesiredObject;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// How one workload rolls out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Strategy {
    /// `<name>-canary` beside the stable Deployment, behind the same Service selector, traffic
    /// split by replica count, step by step.
    Canary(CanarySpec),
    /// `<name>-blue` / `<name>-green` Deployments, the active Service switched between them.
    BlueGreen(BlueGreenSpec),
}

impl Strategy {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Canary(_) => "canary",
            Self::BlueGreen(_) => "blueGreen",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanarySpec {
    pub steps: Vec<Step>,
}

/// One canary step: this share of the replicas runs the new template, then a pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// Percent of the replicas on the new template (1–100; 100 promotes).
    pub weight: u32,
    /// How long to stay at this step once the canary is healthy; none: go on at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlueGreenSpec {
    /// The Service (declared in git) whose selector is switched between the colours.
    pub active_service: String,
    /// The Service Coxswain creates pointing at the colour being rolled out (default
    /// `<name>-preview`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_service: Option<String>,
    /// Switch as soon as the new colour is healthy; `false`: wait for `coxswain rollout promote`.
    #[serde(default = "yes")]
    pub auto_promote: bool,
    /// How long the old colour keeps running after a switch, so switching back is instant.
    #[serde(default = "thirty_seconds")]
    pub scale_down_delay: Delay,
}

fn yes() -> bool {
    true
}

fn thirty_seconds() -> Delay {
    Delay(Duration::from_secs(30))
}

impl BlueGreenSpec {
    pub fn preview_service(&self, workload: &str) -> String {
        self.preview_service.clone().unwrap_or_else(|| format!("{workload}-preview"))
    }
}

/// A step's pause: until someone resumes (`manual`), or for a while (`30s`, `5m`, `1h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Pause {
    Manual,
    For(Delay),
}

/// A duration written `30s`, `5m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Delay(pub Duration);

impl TryFrom<String> for Delay {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        parse_delay(&text)
            .map(Delay)
            .ok_or_else(|| format!("invalid duration {text:?}: expected e.g. 30s, 5m or 1h"))
    }
}

impl From<Delay> for String {
    fn from(delay: Delay) -> Self {
        delay.to_string()
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        if seconds != 0 && seconds.is_multiple_of(3600) {
            write!(f, "{}h", seconds / 3600)
        } else if seconds != 0 && seconds.is_multiple_of(60) {
            write!(f, "{}m", seconds / 60)
        } else {
            write!(f, "{seconds}s")
        }
    }
}

impl TryFrom<String> for Pause {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if text == "manual" {
            return Ok(Self::Manual);
        }
        parse_delay(&text).map(|d| Self::For(Delay(d))).ok_or_else(|| {
            format!("invalid pause {text:?}: expected `manual` or a duration such as 30s, 5m or 1h")
        })
    }
}

impl From<Pause> for String {
    fn from(pause: Pause) -> Self {
        pause.to_string()
    }
}

impl fmt::Display for Pause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manual => f.write_str("manual"),
            Self::For(delay) => delay.fmt(f),
        }
    }
}

fn parse_delay(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => value,
        "m" => value.checked_mul(60)?,
        "h" => value.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// The loader's checks of `rollouts:` against the env's objects: each names a Deployment of the
/// env, canary weights rise to 100, a blue-green's active Service is declared and its preview
/// Service is not (Coxswain creates it). `line_of` maps a JSON pointer in `env.yaml` to its line.
pub fn check(
    rollouts: &BTreeMap<String, Strategy>,
    objects: &[DesiredObject],
    file: &str,
    line_of: &dyn Fn(&str) -> u32,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let mut error = |pointer: &str, message: String| {
        found.push(Diagnostic::error(file, line_of(pointer), "invalid-rollout", message));
    };
    let declared = |kind: &str, name: &str| {
        objects.iter().any(|o| o.key.group_kind == kind && o.name() == name)
    };
    for (workload, strategy) in rollouts {
        let at = format!("/rollouts/{}", crate::yaml::escape_pointer_token(workload));
        if !declared("Deployment.apps", workload) {
            error(
                &at,
                format!(
                    "rollouts.{workload}: no Deployment named {workload} in this environment \
                     (strategies apply to Deployments)"
                ),
            );
        }
        match strategy {
            Strategy::Canary(canary) => {
                let steps = &canary.steps;
                if steps.is_empty() {
                    error(
                        &format!("{at}/canary"),
                        format!(
                            "rollouts.{workload}.canary.steps: at least one step is needed, the last with weight 100"
                        ),
                    );
                }
                if let Some(nginx) = super::traffic::nginx_in(objects, workload) {
                    let canaries = nginx.services.iter().map(|s| ("Service", s.name())).chain(
                        nginx.ingresses.iter().map(|i| ("Ingress.networking.k8s.io", i.name())),
                    );
                    for (kind, routed) in canaries {
                        let name = super::traffic::canary_name(routed);
                        if declared(kind, &name) {
                            error(
                                &format!("{at}/canary"),
                                format!(
                                    "rollouts.{workload}.canary: {} {name} is declared in git, but \
                                     the NGINX canary of {routed} is Coxswain's to create; rename it",
                                    kind.split('.').next().unwrap_or(kind)
                                ),
                            );
                        }
                    }
                }
                let mut previous = 0;
                for (index, step) in steps.iter().enumerate() {
                    let pointer = format!("{at}/canary/steps/{index}/weight");
                    if step.weight == 0 || step.weight > 100 {
                        error(
                            &pointer,
                            format!(
                                "rollouts.{workload}.canary.steps[{index}].weight: {} is not a percentage from 1 to 100",
                                step.weight
                            ),
                        );
                    } else if step.weight <= previous {
                        error(
                            &pointer,
                            format!(
                                "rollouts.{workload}.canary.steps[{index}].weight: {} does not rise above the previous step's {previous}",
                                step.weight
                            ),
                        );
                    }
                    previous = step.weight;
                    let last = index + 1 == steps.len();
                    if last && step.weight != 100 {
                        error(
                            &pointer,
                            format!(
                                "rollouts.{workload}.canary.steps[{index}].weight: the last step must have weight 100 (it promotes the canary)"
                            ),
                        );
                    }
                    if last && step.pause.is_some() {
                        error(
                            &format!("{at}/canary/steps/{index}/pause"),
                            format!(
                                "rollouts.{workload}.canary.steps[{index}].pause: the last step promotes at once; a pause there has nothing to wait for"
                            ),
                        );
                    }
                }
            }
            Strategy::BlueGreen(blue_green) => {
                let scaled = objects.iter().any(|o| {
                    o.key.group_kind == "HorizontalPodAutoscaler.autoscaling"
                        && o.value.pointer("/spec/scaleTargetRef/name").and_then(Value::as_str)
                            == Some(workload.as_str())
                });
                if scaled {
                    error(
                        &format!("{at}/blueGreen"),
                        format!(
                            "rollouts.{workload}.blueGreen: an HorizontalPodAutoscaler scales \
                             {workload}, but its colours are {workload}-blue and {workload}-green; \
                             blue-green does not support HPA-scaled workloads yet (use canary)"
                        ),
                    );
                }
                if !declared("Service", &blue_green.active_service) {
                    error(
                        &format!("{at}/blueGreen/activeService"),
                        format!(
                            "rollouts.{workload}.blueGreen.activeService: no Service named {} in \
                             this environment",
                            blue_green.active_service
                        ),
                    );
                }
                let preview = blue_green.preview_service(workload);
                if declared("Service", &preview) || preview == blue_green.active_service {
                    error(
                        &format!("{at}/blueGreen"),
                        format!(
                            "rollouts.{workload}.blueGreen.previewService: {preview} is declared in \
                             git or is the active Service; Coxswain creates and points the \
                             preview Service itself, name one that is not declared"
                        ),
                    );
                }
            }
        }
    }
    found
}

/// The Deployment `workload` as git declares it.
pub fn deployment<'a>(objects: &'a [DesiredObject], workload: &str) -> Option<&'a DesiredObject> {
    objects.iter().find(|o| o.key.group_kind == "Deployment.apps" && o.name() == workload)
}

/// Git's `spec.replicas` of a Deployment, when it declares one.
pub fn declared_replicas(deployment: &Value) -> Option<u64> {
    deployment.pointer("/spec/replicas").and_then(Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_and_delays_parse() {
        assert_eq!(Pause::try_from("manual".to_owned()), Ok(Pause::Manual));
        assert_eq!(Pause::try_from("5m".to_owned()), Ok(Pause::For(Delay(Duration::from_mins(5)))));
        assert!(Pause::try_from("5 minutes".to_owned()).is_err());
        assert!(Pause::try_from("m".to_owned()).is_err());
        assert_eq!(Delay(Duration::from_secs(90)).to_string(), "90s");
        assert_eq!(Delay(Duration::from_hours(1)).to_string(), "1h");
    }
}
