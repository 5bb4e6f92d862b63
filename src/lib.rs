//! Coxswain: a declarative GitOps pipeline for machine-learning deployments on Kubernetes.
//!
//! The library holds all behaviour; the `coxswain` binary and the desktop app are thin shells
//! over it. Concerns are kept apart the way Argo CD's gitops-engine keeps them: loading the
//! desired state ([`repo`]), talking to a cluster ([`cluster`]), diffing and syncing.

pub mod cluster;
pub mod yaml_edit;
