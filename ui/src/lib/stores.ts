// Application state as Svelte stores. Each store is built over an `Api` so tests drive it with
// a fake; the app uses the Tauri one.

import { get, writable, type Readable } from 'svelte/store';
import { toApiError, type Api } from './api';
import { emptyProgress, reduceProgress, type ProgressState } from './progress';
import type {
  ApiError,
  EditOutcome,
  EnvDetail,
  EnvOverview,
  Preview,
  PromoteOutcome,
  RemoteStatus,
  RepoInfo,
  Revision,
  RolloutAction,
  RolloutPreview,
  RolloutStatus,
  SyncReport,
  WorkloadEdit,
} from './types';

// ---------------------------------------------------------------- environments

export interface EnvsState {
  /** Env names in pipeline order. */
  order: string[];
  cards: Record<string, EnvOverview>;
  details: Record<string, EnvDetail>;
  loading: boolean;
  error: ApiError | null;
  /** Errors of the last re-plan per env (cleared by the next successful one). */
  envErrors: Record<string, ApiError>;
}

export interface EnvStore extends Readable<EnvsState> {
  loadOverview(): Promise<void>;
  loadDetail(env: string): Promise<void>;
  /** A fresh plan pushed by the watcher (or fetched): updates the card and the detail. */
  applyDetail(detail: EnvDetail): void;
  applyError(env: string, error: ApiError): void;
  /** Subscribes to the app's `env-updated`/`env-error` events; returns the unsubscriber. */
  listen(): Promise<() => void>;
  reset(): void;
}

const emptyEnvs = (): EnvsState => ({ order: [], cards: {}, details: {}, loading: false, error: null, envErrors: {} });

export function createEnvStore(api: Api): EnvStore {
  const store = writable<EnvsState>(emptyEnvs());
  const applyDetail = (detail: EnvDetail) =>
    store.update((s) => {
      const name = detail.overview.name;
      const { [name]: _cleared, ...envErrors } = s.envErrors;
      return {
        ...s,
        order: s.order.includes(name) ? s.order : [...s.order, name],
        cards: { ...s.cards, [name]: detail.overview },
        details: { ...s.details, [name]: detail },
        envErrors,
      };
    });
  const applyError = (env: string, error: ApiError) =>
    store.update((s) => ({ ...s, envErrors: { ...s.envErrors, [env]: error } }));
  return {
    subscribe: store.subscribe,
    async loadOverview() {
      store.update((s) => ({ ...s, loading: true, error: null }));
      try {
        const cards = await api.overview();
        store.update((s) => ({
          ...s,
          loading: false,
          order: cards.map((c) => c.name),
          cards: Object.fromEntries(cards.map((c) => [c.name, c])),
        }));
      } catch (error) {
        store.update((s) => ({ ...s, loading: false, error: toApiError(error) }));
      }
    },
    async loadDetail(env) {
      try {
        applyDetail(await api.envDetail(env));
      } catch (error) {
        applyError(env, toApiError(error));
      }
    },
    applyDetail,
    applyError,
    async listen() {
      const offUpdated = await api.onEnvUpdated(applyDetail);
      const offError = await api.onEnvError(({ env, error }) => applyError(env, error));
      return () => {
        offUpdated();
        offError();
      };
    },
    reset: () => store.set(emptyEnvs()),
  };
}

// ---------------------------------------------------------------- apply and rollback

export type OperationKind = 'sync' | 'rollback';

export type OperationState =
  | { phase: 'idle' }
  | { phase: 'previewing'; kind: OperationKind; env: string }
  | { phase: 'confirm'; kind: OperationKind; env: string; preview: Preview; git: boolean; forceConflicts: boolean }
  | { phase: 'running'; kind: OperationKind; env: string; preview: Preview; progress: ProgressState; cancelling?: boolean }
  | {
      phase: 'done';
      kind: OperationKind;
      env: string;
      preview: Preview;
      progress: ProgressState;
      report: SyncReport;
      commit: string | null;
      branch: string | null;
    }
  | { phase: 'failed'; kind: OperationKind; env: string; error: ApiError; progress: ProgressState | null };

export interface OperationStore extends Readable<OperationState> {
  /** Shows the exact plan a sync would apply; with `forceConflicts`, taking back fields other
   * field managers took over. */
  previewSync(env: string, forceConflicts?: boolean): Promise<void>;
  /** Shows the plan that restores revision `to` (null: the last good one before the newest). */
  previewRollback(env: string, to: number | null): Promise<void>;
  setGit(git: boolean): void;
  /** Asks the running sync or rollback to stop before its next write. */
  cancel(): Promise<void>;
  /** Applies the previewed plan; the core refuses if the plan changed since the preview. */
  confirm(): Promise<void>;
  close(): void;
}

export function createOperationStore(api: Api, onFinished: (env: string) => void = () => {}): OperationStore {
  const store = writable<OperationState>({ phase: 'idle' });
  // A preview closed (Esc, ×) before it arrived stays closed; a newer one wins over an older one.
  let latest = 0;
  const preview = async (kind: OperationKind, env: string, load: () => Promise<Preview>, forceConflicts = false) => {
    const call = ++latest;
    store.set({ phase: 'previewing', kind, env });
    try {
      const result = await load();
      if (call === latest) store.set({ phase: 'confirm', kind, env, preview: result, git: false, forceConflicts });
    } catch (error) {
      if (call === latest) store.set({ phase: 'failed', kind, env, error: toApiError(error), progress: null });
    }
  };
  return {
    subscribe: store.subscribe,
    previewSync: (env, forceConflicts = false) =>
      preview('sync', env, () => api.previewSync(env, forceConflicts), forceConflicts),
    previewRollback: (env, to) => preview('rollback', env, () => api.previewRollback(env, to)),
    setGit(git) {
      store.update((s) => (s.phase === 'confirm' ? { ...s, git } : s));
    },
    async cancel() {
      const state = get(store);
      if (state.phase !== 'running' || state.cancelling) return;
      store.set({ ...state, cancelling: true });
      try {
        await api.cancelOperation(state.env);
      } catch {
        // The operation's own result (interrupted, or finished first) is what the user sees.
      }
    },
    async confirm() {
      const state = get(store);
      if (state.phase !== 'confirm') return;
      const { kind, env, preview: shown, git, forceConflicts } = state;
      let progress = emptyProgress();
      store.set({ phase: 'running', kind, env, preview: shown, progress });
      const onProgress = (event: Parameters<typeof reduceProgress>[1]) => {
        progress = reduceProgress(progress, event);
        store.update((s) => (s.phase === 'running' ? { ...s, progress } : s));
      };
      try {
        let report: SyncReport;
        let commit: string | null = null;
        let branch: string | null = null;
        if (kind === 'sync') {
          report = await api.syncEnv(env, shown.fingerprint, forceConflicts, onProgress);
        } else {
          const to = shown.target?.number;
          if (to === undefined) throw { code: 'internal', message: 'the rollback preview names no revision', location: null };
          const outcome = await api.rollback(env, to, shown.fingerprint, git, onProgress);
          ({ report, commit, branch } = outcome);
        }
        store.set({ phase: 'done', kind, env, preview: shown, progress, report, commit, branch });
      } catch (error) {
        store.set({ phase: 'failed', kind, env, error: toApiError(error), progress });
      }
      onFinished(env);
    },
    close() {
      latest++;
      store.set({ phase: 'idle' });
    },
  };
}

// ---------------------------------------------------------------- rollout operations

export type RolloutOperationState =
  | { phase: 'idle' }
  | { phase: 'previewing'; env: string; workload: string; action: RolloutAction }
  | { phase: 'confirm'; env: string; workload: string; action: RolloutAction; preview: RolloutPreview }
  | { phase: 'running'; env: string; workload: string; action: RolloutAction; preview: RolloutPreview }
  | { phase: 'done'; env: string; workload: string; action: RolloutAction; status: RolloutStatus }
  | { phase: 'failed'; env: string; workload: string; action: RolloutAction; error: ApiError };

export interface RolloutOperationStore extends Readable<RolloutOperationState> {
  /** Shows what `action` would write; nothing changes yet. */
  preview(env: string, workload: string, action: RolloutAction): Promise<void>;
  /** Runs the previewed operation; the core refuses if the rollout moved on since. */
  confirm(): Promise<void>;
  close(): void;
}

export function createRolloutOperationStore(api: Api, onFinished: (env: string) => void = () => {}): RolloutOperationStore {
  const store = writable<RolloutOperationState>({ phase: 'idle' });
  // A newer preview (another button) wins over a slower older one.
  let latest = 0;
  return {
    subscribe: store.subscribe,
    async preview(env, workload, action) {
      const call = ++latest;
      store.set({ phase: 'previewing', env, workload, action });
      try {
        const preview = await api.previewRollout(env, workload, action);
        if (call === latest) store.set({ phase: 'confirm', env, workload, action, preview });
      } catch (error) {
        if (call === latest) store.set({ phase: 'failed', env, workload, action, error: toApiError(error) });
      }
    },
    async confirm() {
      const state = get(store);
      if (state.phase !== 'confirm') return;
      const { env, workload, action, preview } = state;
      const call = ++latest;
      store.set({ phase: 'running', env, workload, action, preview });
      try {
        const status = await api.rollout(env, workload, action, preview.fingerprint);
        if (call === latest) store.set({ phase: 'done', env, workload, action, status });
      } catch (error) {
        if (call === latest) store.set({ phase: 'failed', env, workload, action, error: toApiError(error) });
      }
      onFinished(env);
    },
    close() {
      latest++;
      store.set({ phase: 'idle' });
    },
  };
}

// ---------------------------------------------------------------- set image / scale in git

export type WorkloadEditState =
  | { phase: 'idle' }
  | { phase: 'previewing' | 'committing'; env: string; workload: string; edit: WorkloadEdit; outcome: EditOutcome | null }
  | { phase: 'preview' | 'done'; env: string; workload: string; edit: WorkloadEdit; outcome: EditOutcome }
  | { phase: 'failed'; env: string; workload: string; edit: WorkloadEdit; error: ApiError };

export interface WorkloadEditStore extends Readable<WorkloadEditState> {
  /** The edit's diff in git; nothing committed. */
  preview(env: string, workload: string, edit: WorkloadEdit): Promise<void>;
  /** Commits the previewed edit and pushes it (a pull request for protected envs). */
  confirm(): Promise<void>;
  close(): void;
}

export function createWorkloadEditStore(api: Api, onFinished: (env: string) => void = () => {}): WorkloadEditStore {
  const store = writable<WorkloadEditState>({ phase: 'idle' });
  // A preview closed before it arrived stays closed (committing cannot be closed).
  let latest = 0;
  const run = async (env: string, workload: string, edit: WorkloadEdit, commit: boolean, shown: EditOutcome | null) => {
    const call = ++latest;
    store.set({ phase: commit ? 'committing' : 'previewing', env, workload, edit, outcome: shown });
    try {
      const outcome = await api.editWorkload(env, workload, edit, commit);
      if (call === latest) store.set({ phase: commit ? 'done' : 'preview', env, workload, edit, outcome });
    } catch (error) {
      if (call === latest) store.set({ phase: 'failed', env, workload, edit, error: toApiError(error) });
    }
    if (commit) onFinished(env);
  };
  return {
    subscribe: store.subscribe,
    preview: (env, workload, edit) => run(env, workload, edit, false, null),
    async confirm() {
      const state = get(store);
      if (state.phase !== 'preview' || state.outcome.status !== 'dryRun') return;
      await run(state.env, state.workload, state.edit, true, state.outcome);
    },
    close() {
      latest++;
      store.set({ phase: 'idle' });
    },
  };
}

// ---------------------------------------------------------------- history

export interface HistoryState {
  env: string | null;
  revisions: Revision[];
  loading: boolean;
  error: ApiError | null;
}

export interface HistoryStore extends Readable<HistoryState> {
  load(env: string): Promise<void>;
}

export function createHistoryStore(api: Api): HistoryStore {
  const store = writable<HistoryState>({ env: null, revisions: [], loading: false, error: null });
  return {
    subscribe: store.subscribe,
    async load(env) {
      store.set({ env, revisions: get(store).env === env ? get(store).revisions : [], loading: true, error: null });
      try {
        const revisions = await api.history(env);
        store.set({ env, revisions, loading: false, error: null });
      } catch (error) {
        store.set({ env, revisions: [], loading: false, error: toApiError(error) });
      }
    },
  };
}

// ---------------------------------------------------------------- promotion

export type PromoteState =
  | { phase: 'idle' }
  | { phase: 'checking'; from: string; to: string }
  | { phase: 'preview'; from: string; to: string; outcome: PromoteOutcome }
  | { phase: 'creating'; from: string; to: string; outcome: PromoteOutcome }
  | { phase: 'done'; from: string; to: string; outcome: PromoteOutcome }
  | { phase: 'failed'; from: string; to: string; error: ApiError; outcome: PromoteOutcome | null };

export interface PromoteStore extends Readable<PromoteState> {
  /** Runs the gates and shows what moves (a dry run). A newer call wins over an older one. */
  preview(from: string, to: string): Promise<void>;
  /** Commits, pushes and opens the pull request for the promotion last previewed. */
  create(): Promise<void>;
}

export function createPromoteStore(api: Api): PromoteStore {
  const store = writable<PromoteState>({ phase: 'idle' });
  let latest = 0;
  return {
    subscribe: store.subscribe,
    async preview(from, to) {
      const call = ++latest;
      store.set({ phase: 'checking', from, to });
      try {
        const outcome = await api.promotePreview(from, to);
        if (call === latest) store.set({ phase: 'preview', from, to, outcome });
      } catch (error) {
        if (call === latest) store.set({ phase: 'failed', from, to, error: toApiError(error), outcome: null });
      }
    },
    async create() {
      const state = get(store);
      if (state.phase !== 'preview' || state.outcome.status !== 'dryRun') return;
      const { from, to, outcome: shown } = state;
      const call = ++latest;
      store.set({ phase: 'creating', from, to, outcome: shown });
      try {
        const outcome = await api.promote(from, to);
        if (call === latest) store.set({ phase: 'done', from, to, outcome });
      } catch (error) {
        if (call === latest) store.set({ phase: 'failed', from, to, error: toApiError(error), outcome: shown });
      }
    },
  };
}

// ---------------------------------------------------------------- remote commits

export interface RemoteState {
  status: RemoteStatus | null;
  error: ApiError | null;
}

export interface RemoteStore extends Readable<RemoteState> {
  /** Fetches now. */
  load(): Promise<void>;
  /** Takes the periodic fetches' results; returns the unsubscriber. */
  listen(): Promise<() => void>;
}

export function createRemoteStore(api: Api): RemoteStore {
  const store = writable<RemoteState>({ status: null, error: null });
  return {
    subscribe: store.subscribe,
    async load() {
      try {
        store.set({ status: await api.remoteStatus(), error: null });
      } catch (error) {
        store.set({ status: null, error: toApiError(error) });
      }
    },
    listen: () => api.onRemoteStatus((payload) => store.set({ status: payload.status ?? null, error: payload.error ?? null })),
  };
}

// ---------------------------------------------------------------- repo and navigation

export interface RepoStoreState {
  info: RepoInfo | null;
  recent: string[];
  error: ApiError | null;
  loading: boolean;
}

export interface RepoStore extends Readable<RepoStoreState> {
  load(): Promise<void>;
  open(path: string): Promise<boolean>;
}

export function createRepoStore(api: Api): RepoStore {
  const store = writable<RepoStoreState>({ info: null, recent: [], error: null, loading: true });
  return {
    subscribe: store.subscribe,
    async load() {
      try {
        const state = await api.repoState();
        store.set({ info: state.info, recent: state.recent, error: state.error, loading: false });
      } catch (error) {
        store.set({ info: null, recent: [], error: toApiError(error), loading: false });
      }
    },
    async open(path) {
      store.update((s) => ({ ...s, loading: true, error: null }));
      try {
        const info = await api.openRepo(path);
        store.update((s) => ({ ...s, info, loading: false, recent: [path, ...s.recent.filter((r) => r !== path)] }));
        return true;
      } catch (error) {
        store.update((s) => ({ ...s, loading: false, error: toApiError(error) }));
        return false;
      }
    },
  };
}

export type EnvTab = 'resources' | 'rollouts' | 'history';

export type Route =
  | { view: 'overview' }
  | { view: 'env'; env: string; tab: EnvTab }
  | { view: 'promote'; from?: string; to?: string }
  | { view: 'repos' };

export const route = writable<Route>({ view: 'overview' });
