// Generated from the Rust types by src-tauri/src/bindings.rs (ts-rs): do not edit.
// Refresh: COXSWAIN_UPDATE_BINDINGS=1 cargo test --workspace --lib bindings

/**
 * What a sync would do to one object.
 */
export type Action = "create" | "update" | "prune" | "orphan" | "unchanged";

/**
 * An error as the UI shows it: a stable `code`, a readable `message`, and the `file:line` it
 * concerns when there is one.
 */
export type ApiError = { code: string, message: string, location: string | null, };

export type Approval = "pullRequest" | "direct";

export type Artifact = "images" | "model";

/**
 * An object's health and a short reason a person can act on.
 */
export type Assessment = { health: Health, message: string, };

/**
 * The model the candidate was compared with.
 */
export type BaselineReport = { model: string, sha256: string, metrics: Metrics | null, };

/**
 * Everything that moves from `from` to `to`.
 */
export type Change = { from: string, to: string, moved: Array<Moved>,
/**
 * Set when any model field moves.
 */
model: ModelMove | null,
/**
 * What was looked at but not moved, and why (a workload only in one env, say).
 */
notes: Array<string>, };

/**
 * One line of the report table.
 */
export type Check = { name: string, measured: string, threshold: string, verdict: Verdict,
/**
 * Why it failed or was skipped, or where a value came from; empty when there is nothing to add.
 */
detail: string, };

/**
 * A blue-green colour.
 */
export type Colour = "blue" | "green";

export type ContainerImage = { name: string, image: string, };

/**
 * How many objects a sync would touch, by action (the namespace counts as a create).
 */
export type Counts = { create: number, update: number, prune: number, orphan: number, unchanged: number, };

/**
 * A problem in the repo, with the file (repo-relative, `/`-separated) and 1-based line it is at
 * (0 when it concerns the whole file).
 */
export type Diagnostic = { file: string, line: number, severity: Severity,
/**
 * Stable identifier of the kind of problem, e.g. `duplicate-object`; documented in docs/.
 */
code: string, message: string, };

/**
 * A field git declares whose live value another field manager set (`kubectl set image`, an
 * operator, a person's `kubectl edit`): drift. The plan shows it as an update; the sync that
 * takes it back needs `--force-conflicts` (see [`ObjectPlan::needs_force`]).
 */
export type Drift = {
/**
 * The field as the API server names it: `.spec.template.spec.containers[name="app"].image`.
 */
field: string,
/**
 * The field manager that owns the live value now.
 */
manager: string,
/**
 * The live value (strings as they are, anything else as JSON); `None` when unknown.
 */
live: string | null,
/**
 * The value git declares.
 */
git: string | null, };

export type EditOutcome = { status: EditStatus, env: string, workload: string,
/**
 * The manifest and the line of the value.
 */
file: string, line: number, old: string, new: string, diff: string, branch: string | null, commit: string | null,
/**
 * The branch the commit goes onto (or the pull request merges into).
 */
baseBranch: string, pullRequest: PullRequest | null, };

/**
 * How the edit ended.
 */
export type EditStatus = "unchanged" | "dryRun" | "committed" | "pushed" | "pullRequestOpened" | "pullRequestUpdated";

/**
 * What `set image` and `scale` can edit on a git object: its containers' images, and its
 * replicas when git declares them. `None` for objects that run no pods.
 */
export type Editable = { containers: Array<ContainerImage>,
/**
 * `spec.replicas` as git declares it; `None`: not scalable here (an HPA owns the scale, or
 * the kind has no replicas).
 */
replicas: number | null, };

/**
 * Everything the env detail view shows, from one plan.
 */
export type EnvDetail = { overview: EnvOverview, resources: Array<Resource>,
/**
 * Policy findings and input warnings, with `file:line`.
 */
findings: Array<Diagnostic>,
/**
 * The env's canary and blue-green rollouts as the cluster has them (its rollout panel).
 */
rollouts: Array<RolloutStatus>, };

/**
 * One environment card of the overview.
 */
export type EnvOverview = { name: string, namespace: string,
/**
 * The kube context used (override, else `env.yaml`, else the current context: `None`).
 */
context: string | null, protected: boolean, model: ModelSummary | null, syncState: SyncState,
/**
 * The worst health of the env's live objects (`None` without a plan or objects).
 */
health: Health | null, counts: Counts,
/**
 * Input errors, policy errors, plan errors, or the reason there is no plan.
 */
errors: Array<ApiError>, warnings: number,
/**
 * The newest sync revision recorded in the cluster.
 */
lastRevision: Revision | null, };

/**
 * The plan of one environment.
 */
export type EnvPlan = { env: string, namespace: string,
/**
 * False when the namespace does not exist yet (a sync creates it).
 */
namespaceExists: boolean, objects: Array<ObjectPlan>,
/**
 * Problems that block a sync: unknown kinds, objects the server rejects, conflicts.
 */
errors: Array<Diagnostic>,
/**
 * Look-alikes: objects with this env's labels that are not provably Coxswain's, so neither
 * pruned nor orphaned. Absent from JSON when there are none.
 */
skipped?: Array<SkippedObject>,
/**
 * What the next sync does to rollout strategies (starts a canary, continues one, …), one
 * sentence each; filled in by the engine. Absent from JSON when there are none.
 */
rollouts?: Array<string>, };

export type Gate = "modelValidation" | "policy" | "dryRun";

/**
 * Every gate's outcome, with the full reports behind them.
 */
export type GateReport = { results: Array<GateResult>,
/**
 * The model validation report, as `coxswain validate -o json` prints it.
 */
validation: ValidationReport | null,
/**
 * The plan of the edited target environment.
 */
plan: PlanReport | null, };

/**
 * The outcome of one gate.
 */
export type GateResult = { gate: Gate, status: GateStatus,
/**
 * One line: what was decided, and why.
 */
summary: string,
/**
 * Findings behind the summary, one per line (policy findings, plan errors).
 */
details: Array<string>, };

export type GateStatus = "passed" | "failed" | "skipped";

/**
 * Ordered from best to worst, so the worst of several is their maximum.
 */
export type Health = "healthy" | "progressing" | "degraded" | "missing" | "unknown";

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * Latency of one inference call at `batch` rows.
 */
export type LatencyStats = { batch: number, p50Ms: number, p95Ms: number, p99Ms: number,
/**
 * Timed calls behind the percentiles.
 */
calls: number, };

/**
 * What was measured for one model.
 */
export type Metrics = { rows: number, accuracy: number | null,
/**
 * Top-k accuracy when `checks.topK` is set.
 */
topKAccuracy?: number, mae: number | null, rmse: number | null,
/**
 * Largest |output − golden| over all compared outputs, rows and columns.
 */
goldenMaxAbsDiff: number | null,
/**
 * Fraction of arg-max tokens agreeing with the golden outputs (`checks.tokenAgreement`).
 */
tokenAgreement?: number,
/**
 * Parse, analyse and optimise time.
 */
loadMs: number,
/**
 * At batch 1, at the run's batch size, and at the latency check's batch size.
 */
latency: Array<LatencyStats>,
/**
 * Rows per second at the run's batch size (batch rows ÷ mean call time).
 */
rowsPerS: number, };

/**
 * The model reference before and after, when the model moves.
 */
export type ModelMove = {
/**
 * The target's model before the promotion (the validation baseline).
 */
old: ModelRef,
/**
 * The incoming model.
 */
new: ModelRef, };

/**
 * A model file pinned by content.
 */
export type ModelRef = { name: string, version: string | null,
/**
 * Repo-relative path of the ONNX file.
 */
path: string,
/**
 * Hex sha256 of the file; checked before validation and promotion.
 */
sha256: string | null, };

/**
 * The model an environment serves, as its `env.yaml` names it.
 */
export type ModelSummary = { name: string, version: string | null, path: string, };

/**
 * One value that moves.
 */
export type Moved = { artifact: Artifact,
/**
 * Repo-relative file of the target environment that is edited.
 */
file: string,
/**
 * What the value is, for people: `model.version`, `Deployment iris-server, container server: image`.
 */
field: string,
/**
 * The target's value before the promotion; `None` when the key is added.
 */
old: string | null, new: string, };

export type ObjectHealth = { object: string, health: Health, message: string, };

/**
 * One object's planned action.
 */
export type ObjectPlan = { apiVersion: string, kind: string, action: Action,
/**
 * Where git declares it (absent for prune candidates).
 */
source: Source | null,
/**
 * Unified diff of normalised YAML, live → result; empty when unchanged.
 */
diff: string,
/**
 * Whether the server computed the result (dry-run) or it was decided locally.
 */
serverDryRun: boolean,
/**
 * Fields git declares that another field manager changed in the cluster (absent from JSON
 * when there are none).
 */
drift?: Array<Drift>,
/**
 * `Kind.group` (group omitted for the core group), stable across API versions.
 */
groupKind: string, namespace: string | null, name: string, };

export type Outcome = "succeeded" | "unhealthy" | "failed" | "interrupted";

/**
 * Where a rollout is.
 */
export type Phase = "completed" | "progressing" | "paused" | "aborted";

/**
 * A pipeline: ordered stages, each an environment fed from another.
 */
export type Pipeline = { name: string,
/**
 * The model validation gate's spec, decoded by the validation module (see docs/).
 */
modelValidation: JsonValue | null, stages: Array<Stage>, };

/**
 * Plans of several environments, as one report.
 */
export type PlanReport = { schemaVersion: number, environments: Array<EnvPlan>, summary: PlanSummary, };

export type PlanSummary = { create: number, update: number, prune: number, orphan: number, unchanged: number, errors: number,
/**
 * Namespaces a sync would create.
 */
namespaces: number,
/**
 * Updates that take back drift by another field manager: a sync needs `--force-conflicts`.
 */
drifted: number, };

/**
 * One failing pod (and container) of a rollout.
 */
export type PodProblem = { pod: string,
/**
 * `None` for a pod that never got a node (Unschedulable).
 */
container: string | null,
/**
 * `CrashLoopBackOff`, `ImagePullBackOff`, `OOMKilled`, `Unschedulable`, ...
 */
reason: string, restarts: number,
/**
 * What the kubelet or the scheduler said.
 */
message: string,
/**
 * The last lines of the crashed instance's log, when read.
 */
log: string | null, };

/**
 * A plan shown before a write, and the fingerprint that write must match.
 */
export type Preview = { env: string, plan: EnvPlan, summary: PlanSummary, fingerprint: string,
/**
 * The revision a rollback restores.
 */
target: Revision | null,
/**
 * Whether that revision was checked against git.
 */
verification: Verification | null,
/**
 * Gate notes (the model's result).
 */
notes: Array<string>, };

/**
 * The result of a promotion, for people (`render_text`) and machines (JSON).
 */
export type PromoteOutcome = { status: PromoteStatus, pipeline: string, pipelineFile: string, approval: Approval, change: Change,
/**
 * Unified diff of the edited files.
 */
diff: string, gates: GateReport,
/**
 * The commit the promotion starts from (the user's HEAD).
 */
base: string,
/**
 * The branch pull requests target and direct promotions push to (the target's `branch`).
 */
baseBranch: string, remote: string, branch: string | null, commit: string | null, commitMessage: string | null, pullRequest: PullRequest | null, pullRequestBody: string | null,
/**
 * Things the user should know (HEAD not on the tracked branch, a reused branch).
 */
messages: Array<string>, };

/**
 * How a promotion ended (errors aside).
 */
export type PromoteStatus = "nothingToPromote" | "dryRun" | "blocked" | "committed" | "pushed" | "pullRequestOpened" | "pullRequestUpdated";

/**
 * A pull request as the forge reports it.
 */
export type PullRequest = { number: number,
/**
 * The page people open.
 */
html_url: string, };

/**
 * A commit on the tracked remote branch that the checkout does not have yet.
 */
export type RemoteCommit = { sha: string, summary: string, author: string,
/**
 * RFC 3339.
 */
time: string,
/**
 * The environments whose folders the commit changes.
 */
envs: Array<string>, };

/**
 * Commits on HEAD's upstream branch that HEAD does not contain, after a fetch.
 */
export type RemoteStatus = {
/**
 * The upstream branch, e.g. `origin/main`.
 */
upstream: string,
/**
 * Newest first, at most [`REMOTE_COMMITS_SHOWN`].
 */
commits: Array<RemoteCommit>,
/**
 * How many such commits there are in all.
 */
behind: number, };

/**
 * A pipeline and its stages, for the promote view's from → to pickers.
 */
export type RepoInfo = { root: string,
/**
 * Environment names in pipeline order.
 */
environments: Array<string>, pipelines: Array<Pipeline>, pipelineErrors: Array<ApiError>,
/**
 * Contexts in the kubeconfig (empty when there is none).
 */
contexts: Array<string>, };

/**
 * What the repo picker needs: the open repo (if any), why none is open, and recent repos.
 */
export type RepoState = { info: RepoInfo | null, error: ApiError | null, recent: Array<string>, };

/**
 * One row of an environment's resource table.
 */
export type Resource = {
/**
 * `Deployment.apps iris-dev/iris-server`: the key commands take back.
 */
id: string, action: Action,
/**
 * `file:line` in git (absent for prune candidates).
 */
source: string | null, health: Assessment | null,
/**
 * Unified diff of normalised YAML, live → after sync; empty when unchanged.
 */
diff: string,
/**
 * Fields another field manager changed (drift); applying them back needs
 * `force_conflicts`. Absent when there are none.
 */
drift?: Array<Drift>,
/**
 * Git's images and replicas of a workload, for set image / scale; absent for other kinds.
 */
editable?: Editable,
/**
 * `Kind.group` (group omitted for the core group), stable across API versions.
 */
groupKind: string, namespace: string | null, name: string, };

/**
 * What a revision records besides the manifests.
 */
export type Revision = { number: number, gitSha: string | null,
/**
 * Whether the working tree had uncommitted changes in the env folder.
 */
dirty: boolean, author: string,
/**
 * RFC 3339.
 */
time: string, outcome: Outcome, message: string, applied: Array<string>, pruned: Array<string>,
/**
 * When this sync restored an earlier revision.
 */
rollbackOf: number | null,
/**
 * [`digest`] of the stored manifests (absent in revisions written before it existed).
 */
manifestsDigest?: string, };

/**
 * The outcome of a rollback.
 */
export type RollbackOutcome = { report: SyncReport,
/**
 * The revision restored.
 */
target: Revision, verification: Verification,
/**
 * The git commit restoring the env folder (`with_git`).
 */
commit: string | null,
/**
 * The branch that commit is on, for protected environments (open a pull request from it).
 */
branch: string | null, };

/**
 * An operation a person (or CI) asks of a rollout.
 */
export type RolloutAction = "pause" | "resume" | "promote" | "abort" | "undo";

/**
 * One object an operation would write.
 */
export type RolloutChange = {
/**
 * `create`, `update` or `prune` (a delete).
 */
action: Action,
/**
 * Unified diff of normalised YAML, live → after the operation.
 */
diff: string,
/**
 * `Kind.group` (group omitted for the core group), stable across API versions.
 */
groupKind: string, namespace: string | null, name: string, };

/**
 * What a rollout operation would write, shown before a person confirms it.
 */
export type RolloutPreview = { action: RolloutAction,
/**
 * Where the rollout stands now.
 */
status: RolloutStatus,
/**
 * Every object the operation writes (dry-run results), in order.
 */
changes: Array<RolloutChange>,
/**
 * Where it stands after, in a sentence.
 */
message: string,
/**
 * Of the recorded state previewed (pass it back to [`Engine::rollout`]).
 */
fingerprint: string, };

/**
 * Where a rollout stands: what `coxswain rollout status` shows and the app renders.
 */
export type RolloutStatus = { env: string, workload: string,
/**
 * `canary` or `blueGreen`.
 */
strategy: string,
/**
 * `None`: nothing recorded yet (the next sync records the stable template).
 */
phase: Phase | null,
/**
 * Paused by `coxswain rollout pause` (a step's own pause shows as phase `paused`).
 */
paused: boolean,
/**
 * Canary: the current step (1-based) of `steps`, and its weight.
 */
step: number | null, steps: number, weight: number | null,
/**
 * Canary: the stable Deployment; blue-green: the active colour.
 */
stable: Side | null,
/**
 * Canary: `<name>-canary`; blue-green: the colour rolled out behind the preview Service.
 */
new: Side | null, activeColor: Colour | null,
/**
 * What is happening or awaited, in a sentence.
 */
message: string,
/**
 * What a person can ask of it now (the app's buttons); any other operation is refused.
 */
actions: Array<RolloutAction>, };

/**
 * How bad a diagnostic is. Errors stop a plan or sync; warnings are reported only.
 */
export type Severity = "warning" | "error";

/**
 * One side of a rollout as the cluster has it: a Deployment, its images and replicas.
 */
export type Side = { deployment: string, images: Array<string>, replicas: number, ready: number, paused: boolean, health: Health,
/**
 * Why it is not healthy (a failing pod: container, reason, restarts).
 */
message: string,
/**
 * The model version its pods serve, as the pod template says it: a container's
 * `MODEL_VERSION` environment variable, else the `app.kubernetes.io/version` label.
 */
modelVersion: string | null, };

/**
 * An object that claims to be the env's (it carries its labels) but that Coxswain will not
 * prune, because it cannot prove it created it.
 */
export type SkippedObject = { apiVersion: string, kind: string, reason: string,
/**
 * `Kind.group` (group omitted for the core group), stable across API versions.
 */
groupKind: string, namespace: string | null, name: string, };

/**
 * Where an object was declared.
 */
export type Source = {
/**
 * Repo-relative, `/`-separated.
 */
file: string, line: number, };

export type Stage = { env: string,
/**
 * The environment this stage is promoted from.
 */
from: string | null,
/**
 * What moves on promotion.
 */
promote: Array<Artifact>, gates: Array<Gate>, approval: Approval,
/**
 * Refused with a pointer to `rollouts:` in the env's `env.yaml`, where strategies live.
 */
strategy: JsonValue | null, };

/**
 * Progress of a sync, for a progress bar, log lines or the desktop app.
 */
export type SyncEvent = { "event": "planned", changes: number, } | { "event": "locked", holder: string, } | { "event": "namespaceCreated", namespace: string, } | { "event": "tierStarted", tier: string, objects: number, } | { "event": "applied", object: string, } | { "event": "health", object: string, health: Health, message: string, } | { "event": "pruned", object: string, } | { "event": "pruneSkipped", object: string, reason: string, } | { "event": "recorded", revision: number, } | { "event": "rollingBack", to: number, };

/**
 * The outcome of syncing one environment.
 */
export type SyncReport = { env: string, namespace: string, status: SyncStatus, plan: EnvPlan | null, applied: Array<string>, pruned: Array<string>, pruneSkipped: Array<string>, health: Array<ObjectHealth>, revision: number | null,
/**
 * The revision restored after a failed rollout.
 */
rolledBackTo: number | null,
/**
 * Serialised as its message (see [`Failure`]).
 */
error: string | null,
/**
 * Where the env's rollouts stand after the sync (started, advanced, waiting), a sentence
 * each; filled in by the engine. Absent from JSON when the env has none.
 */
rollouts?: Array<string>, };

/**
 * Whether git and the cluster agree for an environment.
 */
export type SyncState = "synced" | "outOfSync" | "unknown";

/**
 * Where a sync ended.
 */
export type SyncStatus = "noChanges" | "dryRun" | "synced" | "unhealthy" | "rolledBack" | "blocked" | "lockHeld" | "failed" | "cancelled" | "interrupted";

/**
 * What the model predicts; decides the metrics.
 */
export type Task = "classification" | "regression";

/**
 * The gate's verdict on one candidate model.
 */
export type ValidationReport = {
/**
 * Repo-relative path of the candidate.
 */
model: string,
/**
 * Measured sha256 of the candidate file.
 */
sha256: string, task: Task, dataset: string,
/**
 * The golden outputs compared against, if any.
 */
goldenOutputs: string | null, checks: Array<Check>, metrics: Metrics | null, baseline: BaselineReport | null,
/**
 * Decisions the gate made that a reviewer should know about.
 */
notes: Array<string>, };

/**
 * Outcome of one check.
 */
export type Verdict = "pass" | "fail" | "skipped";

/**
 * Whether a restored revision was checked against git.
 */
export type Verification = { "state": "verified", commit: string, } | { "state": "unverified", reason: string, };

/**
 * The value to change.
 */
export type WorkloadEdit = { "image": { container: string, image: string, } } | { "replicas": number };
