//! Previews of rollout operations: the operation runs as it would, but every apply is a
//! server-side dry run and every delete only noted, so a person sees exactly what `pause`,
//! `promote`, `abort`, … would write before confirming it.

use crate::cluster::ObjectKey;
use crate::normalize::{mask_secret_pair, normalize};
use crate::plan::{Action as PlanAction, diff_after};
use serde::Serialize;
use serde_json::Value;

/// One object an operation would write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RolloutChange {
    #[serde(flatten)]
    pub key: ObjectKey,
    /// `create`, `update` or `prune` (a delete).
    pub action: PlanAction,
    /// Unified diff of normalised YAML, live → after the operation.
    pub diff: String,
}

impl RolloutChange {
    /// The change from `live` to `after` (`None`: absent), or `None` when nothing changes.
    pub(super) fn between(
        key: ObjectKey,
        live: Option<&Value>,
        after: Option<&Value>,
        operation: &str,
    ) -> Option<Self> {
        let mut before = live.map(normalize);
        let mut after = after.map(normalize);
        if before == after {
            return None;
        }
        mask_secret_pair(before.as_mut(), after.as_mut());
        let action = match (&before, &after) {
            (None, _) => PlanAction::Create,
            (_, None) => PlanAction::Prune,
            _ => PlanAction::Update,
        };
        let diff = diff_after(&key, before.as_ref(), after.as_ref(), operation);
        Some(Self { key, action, diff })
    }
}
