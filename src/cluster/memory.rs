//! The in-memory cluster double (filled in by the plan issue).
