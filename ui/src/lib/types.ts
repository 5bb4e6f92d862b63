// The shapes the Rust commands serialise (coxswain::app_api and friends), one to one.

export interface ApiError {
  code: string;
  message: string;
  /** `file:line` when the error concerns a place in the repo. */
  location: string | null;
}

export type Health = 'healthy' | 'progressing' | 'degraded' | 'missing' | 'unknown';
export type SyncState = 'Synced' | 'OutOfSync' | 'Unknown';
export type Action = 'create' | 'update' | 'prune' | 'orphan' | 'unchanged';

export interface Counts {
  create: number;
  update: number;
  prune: number;
  orphan: number;
  unchanged: number;
}

export interface Revision {
  number: number;
  gitSha: string | null;
  dirty: boolean;
  author: string;
  time: string;
  outcome: 'succeeded' | 'unhealthy' | 'failed';
  message: string;
  applied: string[];
  pruned: string[];
  rollbackOf: number | null;
  manifestsDigest?: string;
}

export interface ModelSummary {
  name: string;
  version: string | null;
  path: string;
}

export interface EnvOverview {
  name: string;
  namespace: string;
  context: string | null;
  protected: boolean;
  model: ModelSummary | null;
  syncState: SyncState;
  health: Health | null;
  counts: Counts;
  errors: ApiError[];
  warnings: number;
  lastRevision: Revision | null;
}

export interface Assessment {
  health: Health;
  message: string;
}

export interface Resource {
  id: string;
  groupKind: string;
  namespace: string | null;
  name: string;
  action: Action;
  source: string | null;
  health: Assessment | null;
  diff: string;
}

export interface Diagnostic {
  file: string;
  line: number;
  severity: 'warning' | 'error';
  code: string;
  message: string;
}

export interface EnvDetail {
  overview: EnvOverview;
  resources: Resource[];
  findings: Diagnostic[];
}

export interface ObjectPlan {
  groupKind: string;
  namespace: string | null;
  name: string;
  apiVersion: string;
  kind: string;
  action: Action;
  source: { file: string; line: number } | null;
  diff: string;
  serverDryRun: boolean;
}

export interface EnvPlan {
  env: string;
  namespace: string;
  namespaceExists: boolean;
  objects: ObjectPlan[];
  errors: Diagnostic[];
}

export interface PlanSummary {
  create: number;
  update: number;
  prune: number;
  orphan: number;
  unchanged: number;
  errors: number;
  namespaces: number;
}

/** Whether a revision to restore was checked against its git commit. */
export type Verification = { state: 'verified'; commit: string } | { state: 'unverified'; reason: string };

export interface Preview {
  env: string;
  plan: EnvPlan;
  summary: PlanSummary;
  fingerprint: string;
  target: Revision | null;
  verification: Verification | null;
  notes: string[];
}

export type SyncStatus =
  | 'noChanges'
  | 'dryRun'
  | 'synced'
  | 'unhealthy'
  | 'rolledBack'
  | 'blocked'
  | 'lockHeld'
  | 'failed'
  | 'cancelled';

export interface ObjectHealth {
  object: string;
  health: Health;
  message: string;
}

export interface SyncReport {
  env: string;
  namespace: string;
  status: SyncStatus;
  plan: EnvPlan | null;
  applied: string[];
  pruned: string[];
  pruneSkipped: string[];
  health: ObjectHealth[];
  revision: number | null;
  rolledBackTo: number | null;
  error: string | null;
}

export interface RollbackOutcome {
  report: SyncReport;
  target: Revision;
  verification: Verification;
  commit: string | null;
  branch: string | null;
}

export interface Stage {
  env: string;
  from: string | null;
  promote: ('images' | 'model')[];
  gates: ('modelValidation' | 'policy' | 'dryRun')[];
  approval: string;
}

export interface Pipeline {
  name: string;
  stages: Stage[];
}

export interface RepoInfo {
  root: string;
  environments: string[];
  pipelines: Pipeline[];
  pipelineErrors: ApiError[];
  contexts: string[];
}

export interface RepoState {
  info: RepoInfo | null;
  error: ApiError | null;
  recent: string[];
}

/** A `SyncEvent` from the core, tagged with its env. */
export type ProgressEvent = { env: string } & (
  | { event: 'planned'; changes: number }
  | { event: 'locked'; holder: string }
  | { event: 'namespaceCreated'; namespace: string }
  | { event: 'tierStarted'; tier: string; objects: number }
  | { event: 'applied'; object: string }
  | { event: 'health'; object: string; health: Health; message: string }
  | { event: 'pruned'; object: string }
  | { event: 'pruneSkipped'; object: string; reason: string }
  | { event: 'recorded'; revision: number }
  | { event: 'rollingBack'; to: number }
);

export interface ModelRef {
  name: string;
  version: string | null;
  path: string;
  sha256: string | null;
}

/** One value a promotion moves into the target env. */
export interface Moved {
  artifact: 'images' | 'model';
  file: string;
  field: string;
  old: string | null;
  new: string;
}

export interface GateResult {
  gate: 'modelValidation' | 'policy' | 'dryRun';
  status: 'passed' | 'failed' | 'skipped';
  summary: string;
  details: string[];
}

/** `coxswain validate -o json`: the model validation gate's report. */
export interface ValidationReport {
  model: string;
  sha256: string;
  dataset: string;
  checks: { name: string; measured: string; threshold: string; verdict: 'pass' | 'fail' | 'skipped'; detail: string }[];
  metrics: {
    rows: number;
    accuracy: number | null;
    loadMs: number;
    latency: { batch: number; p50Ms: number; p95Ms: number; p99Ms: number; calls: number }[];
    rowsPerS: number;
  } | null;
  baseline: { model: string; metrics: { accuracy: number | null } | null } | null;
  notes: string[];
}

export type PromoteStatus =
  | 'nothingToPromote'
  | 'dryRun'
  | 'blocked'
  | 'committed'
  | 'pushed'
  | 'pullRequestOpened'
  | 'pullRequestUpdated';

/** What `coxswain promote` did or would do (coxswain::promote::PromoteOutcome). */
export interface PromoteOutcome {
  status: PromoteStatus;
  pipeline: string;
  approval: string;
  change: { from: string; to: string; moved: Moved[]; model: { old: ModelRef; new: ModelRef } | null; notes: string[] };
  diff: string;
  gates: { results: GateResult[]; validation: ValidationReport | null };
  base: string;
  baseBranch: string;
  remote: string;
  branch: string | null;
  commit: string | null;
  pullRequest: { number: number; html_url: string } | null;
  messages: string[];
}

export interface RemoteCommit {
  sha: string;
  summary: string;
  author: string;
  time: string;
  envs: string[];
}

/** Commits on the checkout's upstream branch that it does not have (after a fetch). */
export interface RemoteStatus {
  upstream: string;
  commits: RemoteCommit[];
  behind: number;
}
