//! What a rollout leaves behind once its strategy is removed from `env.yaml` (or changed from
//! canary to blue-green or back): the `-canary` Deployment, the other colour, the preview
//! Service, the NGINX canary Ingress and Service, and the state annotation on the stable
//! Deployment. A sync never plans or prunes these (they are labelled internal), so the sync
//! that follows the removal deletes them itself, after it applied git's objects.
//!
//! Only what is provably the rollout's: an object carrying this env's ownership labels with
//! exactly this repo's instance, the internal and rollout labels, and an `Apply` entry of the
//! env's rollout field manager in its `managedFields` (labels alone are a claim anyone can
//! copy). A state annotation is cleared only when the env's state field manager wrote it.
//! Deletes carry the uid read by the plan as a precondition: an object re-created since by
//! someone else is left alone.

use super::{ROLLOUT_LABEL, RolloutError, Strategy, Writer, state, traffic};
use crate::cluster::{ApplyOptions, ClusterError, ObjectKey, Preconditions, ResourceType};
use crate::ownership::{ENV_LABEL, INSTANCE_LABEL, INTERNAL_LABEL, Owner, applies};
use crate::repo::Environment;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// One thing to tidy after a rollout strategy went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub resource: ResourceType,
    pub key: ObjectKey,
    /// The uid the plan read: the delete's precondition.
    pub uid: Option<String>,
    /// The workload the rollout belonged to.
    pub workload: String,
    pub action: LeftoverAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftoverAction {
    /// A canary, colour, preview or NGINX canary object: deleted.
    Delete,
    /// The state annotation on a Deployment git still declares: released (removed).
    ClearState,
}

impl Leftover {
    /// The plan's sentence for it.
    pub fn describe(&self) -> String {
        match self.action {
            LeftoverAction::Delete => format!(
                "{} (no longer in rollouts:): the next sync deletes {} {}, which its rollout created",
                self.workload,
                self.key.group_kind.split('.').next().unwrap_or_default(),
                self.key.name
            ),
            LeftoverAction::ClearState => format!(
                "{} (no longer in rollouts:): the next sync removes the rollout state from Deployment {}",
                self.workload, self.key.name
            ),
        }
    }
}

/// The objects each declared rollout may own now: `(group_kind, name)`.
fn expected(env: &Environment) -> BTreeSet<(String, String)> {
    let mut names = BTreeSet::new();
    let deployment = |name: String| ("Deployment.apps".to_owned(), name);
    for (workload, strategy) in &env.config.rollouts {
        match strategy {
            Strategy::Canary(_) => {
                names.insert(deployment(format!("{workload}-canary")));
                if let Some(nginx) = traffic::nginx(env, workload) {
                    for service in nginx.services {
                        names.insert(("Service".to_owned(), traffic::canary_name(service.name())));
                    }
                    for ingress in nginx.ingresses {
                        let name = traffic::canary_name(ingress.name());
                        names.insert(("Ingress.networking.k8s.io".to_owned(), name));
                    }
                }
            }
            Strategy::BlueGreen(spec) => {
                names.insert(deployment(format!("{workload}-blue")));
                names.insert(deployment(format!("{workload}-green")));
                names.insert(("Service".to_owned(), spec.preview_service(workload)));
            }
        }
    }
    names
}

/// The Deployments that may carry a state annotation now.
fn holders(env: &Environment) -> BTreeSet<String> {
    env.config
        .rollouts
        .iter()
        .map(|(workload, strategy)| state::holder(workload, strategy))
        .collect()
}

/// What the rollouts of `env` left behind among `live` (the objects a plan read).
pub fn find<'a>(
    env: &Environment,
    live: impl IntoIterator<Item = (&'a ResourceType, &'a Value)>,
) -> Vec<Leftover> {
    let owner = Owner::of(env);
    let expected = expected(env);
    let holders = holders(env);
    let rollout_manager = super::field_manager(&owner);
    let state_manager = state::field_manager(&owner);
    let mut found = Vec::new();
    for (resource, object) in live {
        // Every live object of the env passes here (10,000 in a large plan): look before
        // allocating anything.
        let metadata = object.get("metadata");
        let label = |name: &str| {
            metadata.and_then(|m| m.get("labels")).and_then(|l| l.get(name)).and_then(Value::as_str)
        };
        let annotated = metadata
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(state::STATE_ANNOTATION))
            .is_some();
        if label(ROLLOUT_LABEL).is_none() && !annotated {
            continue;
        }
        let Some(key) = ObjectKey::of(object) else { continue };
        if key.namespace.as_deref() != Some(env.namespace.as_str()) {
            continue;
        }
        let uid = object.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_owned);
        if let Some(workload) = label(ROLLOUT_LABEL) {
            let ours = label(INTERNAL_LABEL) == Some("true")
                && label(ENV_LABEL) == Some(env.name.as_str())
                && label(INSTANCE_LABEL) == Some(env.instance.as_str())
                && applies(object, &rollout_manager);
            if ours && !expected.contains(&(key.group_kind.clone(), key.name.clone())) {
                found.push(Leftover {
                    resource: resource.clone(),
                    workload: workload.to_owned(),
                    key,
                    uid,
                    action: LeftoverAction::Delete,
                });
            }
            continue;
        }
        // A Deployment git no longer declares is pruned, annotation and all.
        if key.group_kind == "Deployment.apps"
            && annotated
            && !holders.contains(&key.name)
            && super::spec::deployment(&env.objects, &key.name).is_some()
            && applies(object, &state_manager)
        {
            found.push(Leftover {
                resource: resource.clone(),
                workload: key.name.clone(),
                key,
                uid,
                action: LeftoverAction::ClearState,
            });
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found
}

/// Removes `leftovers` through the rollout's writer (under the env's Lease): deletes, each on
/// the uid the plan read, and state annotations released by their field manager. An object
/// that is gone, or was re-created by someone else since, is left alone.
pub async fn remove(w: &mut Writer, leftovers: &[Leftover]) -> Result<(), RolloutError> {
    for leftover in leftovers {
        let namespace = leftover.key.namespace.as_deref();
        if w.previewing() {
            // A preview lists the deletes; a released annotation changes no spec.
            if leftover.action == LeftoverAction::Delete {
                w.preview(&leftover.resource, &leftover.key.name, None).await?;
            }
            continue;
        }
        match leftover.action {
            LeftoverAction::Delete => {
                let preconditions =
                    Preconditions { uid: leftover.uid.clone(), resource_version: None };
                w.may_write().await?;
                let deleted = w.cluster.delete(
                    &leftover.resource,
                    namespace,
                    &leftover.key.name,
                    Some(&preconditions),
                );
                match deleted.await {
                    Ok(true) => w.written.push(format!("deleted {}", leftover.key)),
                    Ok(false)
                    | Err(ClusterError::Conflict { .. } | ClusterError::NotFound { .. }) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            LeftoverAction::ClearState => {
                let live = w.cluster.get(&leftover.resource, namespace, &leftover.key.name).await?;
                let manager = state::field_manager(&w.owner);
                let same = live.as_ref().is_some_and(|live| {
                    live.pointer("/metadata/uid").and_then(Value::as_str) == leftover.uid.as_deref()
                        && crate::ownership::applies(live, &manager)
                });
                if !same {
                    continue;
                }
                // Applying nothing as the state's manager releases the annotation it owned.
                let bare = json!({
                    "apiVersion": leftover.resource.gvk.api_version(),
                    "kind": leftover.resource.gvk.kind,
                    "metadata": {"name": leftover.key.name, "namespace": namespace},
                });
                let options = ApplyOptions { field_manager: manager, force: true, dry_run: false };
                w.may_write().await?;
                w.cluster.apply(&leftover.resource, &bare, &options).await?;
                w.written.push(format!("{} (rollout state removed)", leftover.key));
            }
        }
    }
    Ok(())
}
