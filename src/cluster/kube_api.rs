//! The real adapter over the `kube` crate (filled in by the plan issue).
