// Typed wrappers for every Tauri command. Stores take an `Api` so tests can pass a fake.

import { Channel, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  ApiError,
  EditOutcome,
  EnvDetail,
  EnvOverview,
  PodProblem,
  Preview,
  ProgressEvent,
  PromoteOutcome,
  RepoInfo,
  RemoteStatus,
  RepoState,
  Revision,
  RollbackOutcome,
  RolloutAction,
  RolloutPreview,
  RolloutStatus,
  SyncReport,
  WorkloadEdit,
} from './types';

export interface Api {
  openRepo(path: string): Promise<RepoInfo>;
  repoState(): Promise<RepoState>;
  overview(): Promise<EnvOverview[]>;
  envDetail(env: string): Promise<EnvDetail>;
  liveObject(env: string, id: string): Promise<string | null>;
  /** A workload's failing pods, with crashed containers' last log lines. */
  workloadPods(env: string, id: string): Promise<PodProblem[]>;
  /** With `forceConflicts`, the plan takes back fields another field manager took over. */
  previewSync(env: string, forceConflicts: boolean): Promise<Preview>;
  syncEnv(env: string, fingerprint: string, forceConflicts: boolean, onProgress: (e: ProgressEvent) => void): Promise<SyncReport>;
  /** Stops the env's running sync or rollback before its next write; false when none runs. */
  cancelOperation(env: string): Promise<boolean>;
  history(env: string): Promise<Revision[]>;
  previewRollback(env: string, to: number | null): Promise<Preview>;
  rollback(
    env: string,
    to: number,
    fingerprint: string,
    git: boolean,
    onProgress: (e: ProgressEvent) => void,
  ): Promise<RollbackOutcome>;
  /** What a rollout operation would write (dry run); nothing changes. */
  previewRollout(env: string, workload: string, action: RolloutAction): Promise<RolloutPreview>;
  /** The operation, refused when the rollout moved on since the preview with `fingerprint`. */
  rollout(env: string, workload: string, action: RolloutAction, fingerprint: string): Promise<RolloutStatus>;
  /** `set image` / `scale` in git: the diff only, or (`commit`) commit and push / pull request. */
  editWorkload(env: string, workload: string, edit: WorkloadEdit, commit: boolean): Promise<EditOutcome>;
  setContext(env: string, context: string | null): Promise<void>;
  /** Dry run: what moves and every gate's result; nothing committed. */
  promotePreview(from: string, to: string): Promise<PromoteOutcome>;
  /** Commit, push, and open or update the pull request. */
  promote(from: string, to: string): Promise<PromoteOutcome>;
  /** Opens an http(s) page (a pull request) in the user's browser. */
  openInBrowser(url: string): Promise<void>;
  /** Help → Open logs: shows the app's log folder; returns its path. */
  openLogs(): Promise<string>;
  remoteStatus(): Promise<RemoteStatus | null>;
  onRemoteStatus(handler: (payload: { status?: RemoteStatus | null; error?: ApiError }) => void): Promise<UnlistenFn>;
  onEnvUpdated(handler: (detail: EnvDetail) => void): Promise<UnlistenFn>;
  onEnvError(handler: (payload: { env: string; error: ApiError }) => void): Promise<UnlistenFn>;
}

/** Whether a thrown value is an `ApiError` from a command. */
export function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

/** Any thrown value as an `ApiError` (IPC failures arrive as plain strings). */
export function toApiError(value: unknown): ApiError {
  if (isApiError(value)) return { code: value.code, message: value.message, location: value.location ?? null };
  return { code: 'internal', message: value instanceof Error ? value.message : String(value), location: null };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toApiError(error);
  }
}

function channel(handler: (e: ProgressEvent) => void): Channel<ProgressEvent> {
  const ch = new Channel<ProgressEvent>();
  ch.onmessage = handler;
  return ch;
}

export const tauriApi: Api = {
  openRepo: (path) => call('open_repo', { path }),
  repoState: () => call('repo_state'),
  overview: () => call('overview'),
  envDetail: (env) => call('env_detail', { env }),
  liveObject: (env, id) => call('live_object', { env, id }),
  workloadPods: (env, id) => call('workload_pods', { env, id }),
  previewSync: (env, forceConflicts) => call('preview_sync', { env, forceConflicts }),
  syncEnv: (env, fingerprint, forceConflicts, onProgress) =>
    call('sync_env', { env, fingerprint, forceConflicts, onProgress: channel(onProgress) }),
  cancelOperation: (env) => call('cancel_operation', { env }),
  history: (env) => call('history', { env }),
  previewRollback: (env, to) => call('preview_rollback', { env, to }),
  rollback: (env, to, fingerprint, git, onProgress) =>
    call('rollback', { env, to, fingerprint, git, onProgress: channel(onProgress) }),
  previewRollout: (env, workload, action) => call('preview_rollout', { env, workload, action }),
  rollout: (env, workload, action, fingerprint) => call('rollout', { env, workload, action, fingerprint }),
  editWorkload: (env, workload, edit, commit) => call('edit_workload', { env, workload, edit, commit }),
  setContext: (env, context) => call('set_context', { env, context }),
  promotePreview: (from, to) => call('promote_preview', { from, to }),
  promote: (from, to) => call('promote', { from, to }),
  openInBrowser: (url) => call('open_in_browser', { url }),
  openLogs: () => call('open_logs'),
  remoteStatus: () => call('remote_status'),
  onRemoteStatus: (handler) =>
    listen<{ status?: RemoteStatus | null; error?: ApiError }>('remote-status', (e) => handler(e.payload)),
  onEnvUpdated: (handler) => listen<EnvDetail>('env-updated', (e) => handler(e.payload)),
  onEnvError: (handler) => listen<{ env: string; error: ApiError }>('env-error', (e) => handler(e.payload)),
};
