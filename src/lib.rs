//! Coxswain: a declarative `GitOps` pipeline for machine-learning deployments on Kubernetes.
//!
//! The library holds all behaviour; the `coxswain` binary and the desktop app are thin shells
//! over it. Concerns are kept apart the way Argo CD's gitops-engine keeps them: loading the
//! desired state ([`repo`]), checking it ([`policy`]), talking to a cluster ([`cluster`]),
//! diffing ([`plan`]), applying ([`sync`]), health ([`health`]) and history ([`history`]).

pub mod annotations;
pub mod app_api;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod cores;
pub mod diagnostic;
pub mod engine;
pub mod exit;
pub use coxswain_cluster::fieldset;
pub mod git;
pub mod gzip;
pub mod health;
pub mod history;
pub mod inventory;
pub mod lock;
pub mod normalize;
pub mod ownership;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod promote;
pub mod repo;
pub mod report;
pub mod rollout;
pub mod sync;
#[cfg(feature = "model-validation")]
pub mod validate;
pub mod yaml;
pub mod yaml_edit;
