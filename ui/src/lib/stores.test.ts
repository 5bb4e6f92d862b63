import { get } from 'svelte/store';
import { describe, expect, it, vi } from 'vitest';
import type { Api } from './api';
import {
  createEnvStore,
  createHistoryStore,
  createOperationStore,
  createPromoteStore,
  createRemoteStore,
  createRepoStore,
  createRolloutOperationStore,
  createWorkloadEditStore,
} from './stores';
import type { EditOutcome, EnvDetail, EnvOverview, Preview, ProgressEvent, PromoteOutcome, RolloutPreview, RolloutStatus, SyncReport } from './types';

const card = (name: string, update = 0): EnvOverview => ({
  name,
  namespace: `iris-${name}`,
  context: null,
  protected: name === 'prod',
  model: { name: 'iris-classifier', version: '1.0.0', path: 'models/iris/1.0.0/model.onnx' },
  syncState: update ? 'outOfSync' : 'synced',
  health: 'healthy',
  counts: { create: 0, update, prune: 0, orphan: 0, unchanged: 4 - update },
  errors: [],
  warnings: 0,
  lastRevision: null,
});

const detail = (name: string, update = 0): EnvDetail => ({ overview: card(name, update), resources: [], findings: [], rollouts: [] });

const preview = (fingerprint: string, target: number | null = null): Preview => ({
  env: 'dev',
  plan: { env: 'dev', namespace: 'iris-dev', namespaceExists: true, objects: [], errors: [] },
  summary: { create: 0, update: 1, prune: 0, orphan: 0, unchanged: 3, errors: 0, namespaces: 0, drifted: 0 },
  fingerprint,
  target: target === null ? null : { number: target, gitSha: 'abc', dirty: false, author: 'a', time: '', outcome: 'succeeded', message: '', applied: [], pruned: [], rollbackOf: null },
  verification: target === null ? null : { state: 'verified', commit: 'abc' },
  notes: [],
});

const report = (status: SyncReport['status']): SyncReport => ({
  env: 'dev', namespace: 'iris-dev', status, plan: null, applied: [], pruned: [], pruneSkipped: [], health: [], revision: 2, rolledBackTo: null, error: null,
});

/** A fake of every command; tests override what they use. */
function fakeApi(overrides: Partial<Api> = {}): Api {
  const fail = (name: string) => () => Promise.reject({ code: 'unexpected', message: `${name} was not expected`, location: null });
  return {
    openRepo: fail('openRepo'),
    repoState: fail('repoState'),
    overview: fail('overview'),
    envDetail: fail('envDetail'),
    liveObject: fail('liveObject'),
    workloadPods: fail('workloadPods'),
    previewSync: fail('previewSync'),
    syncEnv: fail('syncEnv'),
    cancelOperation: fail('cancelOperation'),
    history: fail('history'),
    previewRollback: fail('previewRollback'),
    rollback: fail('rollback'),
    previewRollout: fail('previewRollout'),
    rollout: fail('rollout'),
    editWorkload: fail('editWorkload'),
    setContext: fail('setContext'),
    promotePreview: fail('promotePreview'),
    promote: fail('promote'),
    openInBrowser: fail('openInBrowser'),
    openLogs: fail('openLogs'),
    remoteStatus: fail('remoteStatus'),
    onRemoteStatus: () => Promise.resolve(() => {}),
    onEnvUpdated: () => Promise.resolve(() => {}),
    onEnvError: () => Promise.resolve(() => {}),
    ...overrides,
  };
}

describe('env store', () => {
  it('loads the overview in pipeline order', async () => {
    const store = createEnvStore(fakeApi({ overview: () => Promise.resolve([card('dev', 1), card('staging'), card('prod')]) }));
    await store.loadOverview();
    const state = get(store);
    expect(state.order).toEqual(['dev', 'staging', 'prod']);
    expect(state.cards.dev?.syncState).toBe('outOfSync');
    expect(state.loading).toBe(false);
  });

  it('applies watcher updates to the card and the detail, and clears that env’s error', async () => {
    let push: ((d: EnvDetail) => void) | undefined;
    let pushError: ((p: { env: string; error: { code: string; message: string; location: string | null } }) => void) | undefined;
    const store = createEnvStore(
      fakeApi({
        overview: () => Promise.resolve([card('dev'), card('prod')]),
        onEnvUpdated: (handler) => ((push = handler), Promise.resolve(() => {})),
        onEnvError: (handler) => ((pushError = handler), Promise.resolve(() => {})),
      }),
    );
    await store.loadOverview();
    await store.listen();
    pushError?.({ env: 'dev', error: { code: 'invalid-yaml', message: 'bad', location: 'environments/dev/x.yaml:3' } });
    expect(get(store).envErrors.dev?.location).toBe('environments/dev/x.yaml:3');
    push?.(detail('dev', 1));
    const state = get(store);
    expect(state.cards.dev?.counts.update).toBe(1);
    expect(state.details.dev?.overview.syncState).toBe('outOfSync');
    expect(state.envErrors.dev).toBeUndefined();
    expect(state.order).toEqual(['dev', 'prod']);
  });

  it('keeps the error of a failed overview', async () => {
    const store = createEnvStore(fakeApi({ overview: () => Promise.reject({ code: 'no-repo', message: 'no repo is open', location: null }) }));
    await store.loadOverview();
    expect(get(store).error?.code).toBe('no-repo');
  });
});

describe('operation store', () => {
  it('cancels a running sync once, and shows how it ended', async () => {
    let finish: (r: SyncReport) => void = () => {};
    const syncEnv = vi.fn(() => new Promise<SyncReport>((resolve) => (finish = resolve)));
    const cancelOperation = vi.fn(() => Promise.resolve(true));
    const store = createOperationStore(fakeApi({ previewSync: () => Promise.resolve(preview('fp')), syncEnv, cancelOperation }));
    await store.cancel();
    expect(cancelOperation).not.toHaveBeenCalled();
    await store.previewSync('dev');
    const running = store.confirm();
    await store.cancel();
    await store.cancel();
    expect(cancelOperation).toHaveBeenCalledTimes(1);
    expect(cancelOperation).toHaveBeenCalledWith('dev');
    expect(get(store)).toMatchObject({ phase: 'running', cancelling: true });
    finish(report('interrupted'));
    await running;
    expect(get(store)).toMatchObject({ phase: 'done', report: { status: 'interrupted' } });
  });

  it('confirms a forced preview as a forced sync, and only that preview', async () => {
    const previewSync = vi.fn((_env: string, force: boolean) => Promise.resolve(preview(force ? 'fp-forced' : 'fp-plain')));
    const syncEnv = vi.fn(() => Promise.resolve(report('synced')));
    const store = createOperationStore(fakeApi({ previewSync, syncEnv }));
    await store.previewSync('dev', true);
    expect(previewSync).toHaveBeenCalledWith('dev', true);
    expect(get(store)).toMatchObject({ phase: 'confirm', forceConflicts: true });
    await store.confirm();
    expect(syncEnv).toHaveBeenCalledWith('dev', 'fp-forced', true, expect.any(Function));

    await store.previewSync('dev');
    expect(get(store)).toMatchObject({ phase: 'confirm', forceConflicts: false });
    await store.confirm();
    expect(syncEnv).toHaveBeenLastCalledWith('dev', 'fp-plain', false, expect.any(Function));
  });

  it('applies exactly the previewed fingerprint and folds progress', async () => {
    const syncEnv = vi.fn((_env: string, _fp: string, _force: boolean, onProgress: (e: ProgressEvent) => void) => {
      onProgress({ env: 'dev', event: 'tierStarted', tier: 'config', objects: 1 });
      onProgress({ env: 'dev', event: 'applied', object: 'ConfigMap iris-dev/c' });
      onProgress({ env: 'dev', event: 'recorded', revision: 2 });
      return Promise.resolve(report('synced'));
    });
    const finished = vi.fn();
    const store = createOperationStore(fakeApi({ previewSync: () => Promise.resolve(preview('fp-1')), syncEnv }), finished);
    await store.previewSync('dev');
    expect(get(store)).toMatchObject({ phase: 'confirm', kind: 'sync', env: 'dev' });
    await store.confirm();
    expect(syncEnv).toHaveBeenCalledWith('dev', 'fp-1', false, expect.any(Function));
    const state = get(store);
    expect(state.phase).toBe('done');
    if (state.phase !== 'done') return;
    expect(state.report.status).toBe('synced');
    expect(state.progress.tiers).toEqual([{ tier: 'config', objects: 1, applied: ['ConfigMap iris-dev/c'] }]);
    expect(state.progress.revision).toBe(2);
    expect(finished).toHaveBeenCalledWith('dev');
  });

  it('reports a changed plan as an error and applies nothing twice', async () => {
    const syncEnv = vi.fn(() => Promise.reject({ code: 'plan-changed', message: 'the plan of dev changed since the preview', location: null }));
    const store = createOperationStore(fakeApi({ previewSync: () => Promise.resolve(preview('old')), syncEnv }));
    await store.previewSync('dev');
    await store.confirm();
    await store.confirm(); // no longer confirming: ignored
    expect(syncEnv).toHaveBeenCalledTimes(1);
    expect(get(store)).toMatchObject({ phase: 'failed', error: { code: 'plan-changed' } });
  });

  it('rolls back to the previewed revision with the git option', async () => {
    const rollback = vi.fn(() =>
      Promise.resolve({ report: report('synced'), target: preview('fp-r', 1).target!, verification: { state: 'verified' as const, commit: 'abc' }, commit: 'c0ffee', branch: null }),
    );
    const store = createOperationStore(fakeApi({ previewRollback: () => Promise.resolve(preview('fp-r', 1)), rollback }));
    await store.previewRollback('dev', null);
    store.setGit(true);
    await store.confirm();
    expect(rollback).toHaveBeenCalledWith('dev', 1, 'fp-r', true, expect.any(Function));
    expect(get(store)).toMatchObject({ phase: 'done', kind: 'rollback', commit: 'c0ffee' });
    store.close();
    expect(get(store)).toEqual({ phase: 'idle' });
  });

  it('stays closed when a preview closed while planning arrives, and a newer preview wins', async () => {
    const pending: ((p: Preview) => void)[] = [];
    const store = createOperationStore(fakeApi({ previewSync: () => new Promise<Preview>((resolve) => pending.push(resolve)) }));
    const closed = store.previewSync('dev');
    expect(get(store)).toMatchObject({ phase: 'previewing' });
    store.close();
    pending[0]?.(preview('late'));
    await closed;
    expect(get(store)).toEqual({ phase: 'idle' });

    const older = store.previewSync('dev');
    const newer = store.previewSync('dev', true);
    pending[2]?.(preview('new'));
    await newer;
    pending[1]?.(preview('old'));
    await older;
    expect(get(store)).toMatchObject({ phase: 'confirm', preview: { fingerprint: 'new' }, forceConflicts: true });
  });

  it('shows a preview error with its location', async () => {
    const store = createOperationStore(
      fakeApi({ previewSync: () => Promise.reject({ code: 'image-tag', message: 'policy gate failed', location: 'environments/dev/a.yaml:22' }) }),
    );
    await store.previewSync('dev');
    expect(get(store)).toMatchObject({ phase: 'failed', error: { location: 'environments/dev/a.yaml:22' } });
  });
});

const rolloutStatus = (message: string, paused = false): RolloutStatus => ({
  env: 'prod', workload: 'web', strategy: 'canary', phase: 'paused', paused, step: 1, steps: 3, weight: 25,
  stable: null, new: null, activeColor: null, message, actions: ['resume', 'promote', 'abort'],
});

const rolloutPreview = (fingerprint: string): RolloutPreview => ({
  action: 'pause', status: rolloutStatus('step 1 of 3'), changes: [], message: 'paused', fingerprint,
});

describe('rollout operation store', () => {
  it('previews, then runs the operation with the previewed fingerprint and refreshes the env', async () => {
    const rollout = vi.fn(() => Promise.resolve(rolloutStatus('paused', true)));
    const finished = vi.fn();
    const store = createRolloutOperationStore(
      fakeApi({ previewRollout: () => Promise.resolve(rolloutPreview('f1')), rollout }),
      finished,
    );
    await store.preview('prod', 'web', 'pause');
    expect(get(store)).toMatchObject({ phase: 'confirm', workload: 'web', action: 'pause' });
    await store.confirm();
    expect(rollout).toHaveBeenCalledWith('prod', 'web', 'pause', 'f1');
    expect(get(store)).toMatchObject({ phase: 'done', status: { paused: true } });
    expect(finished).toHaveBeenCalledWith('prod');
  });

  it('shows the core’s refusal, and a newer preview wins over a slower older one', async () => {
    let releaseFirst: (p: RolloutPreview) => void = () => {};
    const first = new Promise<RolloutPreview>((resolve) => (releaseFirst = resolve));
    const previews = [first, Promise.resolve(rolloutPreview('f2'))];
    const store = createRolloutOperationStore(
      fakeApi({
        previewRollout: () => previews.shift() ?? Promise.reject(new Error('no more')),
        rollout: () => Promise.reject({ code: 'refused', message: 'web: the rollout moved on since the preview; preview it again', location: null }),
      }),
    );
    const older = store.preview('prod', 'web', 'abort');
    await store.preview('prod', 'web', 'pause');
    releaseFirst(rolloutPreview('f1'));
    await older;
    expect(get(store)).toMatchObject({ phase: 'confirm', action: 'pause', preview: { fingerprint: 'f2' } });
    await store.confirm();
    expect(get(store)).toMatchObject({ phase: 'failed', error: { code: 'refused' } });
    store.close();
    expect(get(store).phase).toBe('idle');
  });
});

const editOutcome = (status: EditOutcome['status']): EditOutcome => ({
  status, env: 'dev', workload: 'iris-server', file: 'environments/dev/iris-server.yaml', line: 22,
  old: 'ghcr.io/acme-ml/iris-server:1.0.0', new: 'ghcr.io/acme-ml/iris-server:1.2.0', diff: '', branch: null,
  commit: status === 'pushed' ? 'abc123' : null, baseBranch: 'main', pullRequest: null,
});

describe('workload edit store', () => {
  const edit = { image: { container: 'server', image: 'ghcr.io/acme-ml/iris-server:1.2.0' } };

  it('previews the edit, then commits exactly that edit and refreshes the env', async () => {
    const calls: boolean[] = [];
    const finished = vi.fn();
    const store = createWorkloadEditStore(
      fakeApi({ editWorkload: (_env, _w, _e, commit) => (calls.push(commit), Promise.resolve(editOutcome(commit ? 'pushed' : 'dryRun'))) }),
      finished,
    );
    await store.preview('dev', 'iris-server', edit);
    expect(get(store)).toMatchObject({ phase: 'preview', outcome: { status: 'dryRun' } });
    await store.confirm();
    expect(calls).toEqual([false, true]);
    expect(get(store)).toMatchObject({ phase: 'done', outcome: { status: 'pushed' } });
    expect(finished).toHaveBeenCalledWith('dev');
  });

  it('stays closed when a preview closed while editing arrives', async () => {
    let release: (o: EditOutcome) => void = () => {};
    const store = createWorkloadEditStore(fakeApi({ editWorkload: () => new Promise<EditOutcome>((resolve) => (release = resolve)) }));
    const closed = store.preview('dev', 'iris-server', edit);
    store.close();
    release(editOutcome('dryRun'));
    await closed;
    expect(get(store)).toEqual({ phase: 'idle' });
  });

  it('has nothing to confirm when git already has the value', async () => {
    const editWorkload = vi.fn(() => Promise.resolve(editOutcome('unchanged')));
    const store = createWorkloadEditStore(fakeApi({ editWorkload }));
    await store.preview('dev', 'iris-server', edit);
    await store.confirm();
    expect(editWorkload).toHaveBeenCalledTimes(1);
    expect(get(store)).toMatchObject({ phase: 'preview', outcome: { status: 'unchanged' } });
  });
});

describe('history and repo stores', () => {
  it('loads revisions and errors per env', async () => {
    const store = createHistoryStore(
      fakeApi({ history: (env) => (env === 'dev' ? Promise.resolve([preview('x', 3).target!]) : Promise.reject({ code: 'cluster-unreachable', message: 'down', location: null })) }),
    );
    await store.load('dev');
    expect(get(store).revisions.map((r) => r.number)).toEqual([3]);
    await store.load('prod');
    expect(get(store)).toMatchObject({ env: 'prod', revisions: [], error: { code: 'cluster-unreachable' } });
  });

  it('opens a repo and puts it first in the recent list', async () => {
    const info = { root: '/b', environments: ['dev'], pipelines: [], pipelineErrors: [], contexts: [] };
    const store = createRepoStore(
      fakeApi({
        repoState: () => Promise.resolve({ info: null, error: null, recent: ['/a', '/b'] }),
        openRepo: (path) => (path === '/b' ? Promise.resolve(info) : Promise.reject({ code: 'not-a-repo', message: 'no environments/', location: null })),
      }),
    );
    await store.load();
    expect(await store.open('/nope')).toBe(false);
    expect(get(store).error?.code).toBe('not-a-repo');
    expect(await store.open('/b')).toBe(true);
    expect(get(store)).toMatchObject({ info, recent: ['/b', '/a'], error: null });
  });
});

describe('remote store', () => {
  it('keeps the last fetch result, pushed or fetched', async () => {
    let push: ((p: { status?: unknown; error?: { code: string; message: string; location: null } }) => void) | undefined;
    const status = { upstream: 'origin/main', behind: 1, commits: [{ sha: 'abcdef0123', summary: 'dev: trace', author: 'Ada', time: '', envs: ['dev'] }] };
    const store = createRemoteStore(
      fakeApi({ remoteStatus: () => Promise.resolve(status), onRemoteStatus: (h) => ((push = h as typeof push), Promise.resolve(() => {})) }),
    );
    await store.listen();
    await store.load();
    expect(get(store).status?.commits[0]?.envs).toEqual(['dev']);
    push?.({ error: { code: 'git-fetch', message: 'git fetch origin: timed out', location: null } });
    expect(get(store)).toEqual({ status: null, error: { code: 'git-fetch', message: 'git fetch origin: timed out', location: null } });
  });
});

const outcome = (status: PromoteOutcome['status']): PromoteOutcome => ({
  status,
  pipeline: 'iris',
  pipelineFile: 'pipelines/iris.yaml',
  approval: 'pullRequest',
  change: { from: 'dev', to: 'staging', moved: [{ artifact: 'model', file: 'environments/staging/env.yaml', field: 'model.version', old: '1.0.0', new: '1.1.0' }], model: null, notes: [] },
  diff: '',
  gates: { results: [{ gate: 'policy', status: 'passed', summary: 'no findings', details: [] }], validation: null, plan: null },
  base: 'abc',
  baseBranch: 'main',
  remote: 'origin',
  branch: status === 'dryRun' ? null : 'coxswain/promote-staging-iris-classifier-1.1.0',
  commit: status === 'dryRun' ? null : 'c0ffee',
  commitMessage: status === 'dryRun' ? null : 'Promote iris-classifier 1.1.0 to staging',
  pullRequest: status === 'pullRequestOpened' ? { number: 7, html_url: 'https://example.invalid/pr/7' } : null,
  pullRequestBody: null,
  messages: [],
});

describe('promote store', () => {
  it('previews, then creates the pull request for the previewed promotion', async () => {
    const promote = vi.fn(() => Promise.resolve(outcome('pullRequestOpened')));
    const store = createPromoteStore(fakeApi({ promotePreview: () => Promise.resolve(outcome('dryRun')), promote }));
    await store.preview('dev', 'staging');
    expect(get(store)).toMatchObject({ phase: 'preview', outcome: { status: 'dryRun' } });
    await store.create();
    expect(promote).toHaveBeenCalledWith('dev', 'staging');
    expect(get(store)).toMatchObject({ phase: 'done', outcome: { pullRequest: { number: 7 } } });
    await store.create(); // only from a preview
    expect(promote).toHaveBeenCalledTimes(1);
  });

  it('does not create from a blocked preview, and keeps the newest preview', async () => {
    let release: ((o: PromoteOutcome) => void) | undefined;
    const promote = vi.fn();
    const store = createPromoteStore(
      fakeApi({
        promotePreview: (from) => (from === 'slow' ? new Promise((r) => (release = r)) : Promise.resolve(outcome('blocked'))),
        promote,
      }),
    );
    const slow = store.preview('slow', 'staging');
    await store.preview('dev', 'staging');
    release?.(outcome('dryRun'));
    await slow;
    expect(get(store)).toMatchObject({ phase: 'preview', from: 'dev', outcome: { status: 'blocked' } });
    await store.create();
    expect(promote).not.toHaveBeenCalled();
  });

  it('keeps the preview next to the error when creating fails', async () => {
    const store = createPromoteStore(
      fakeApi({
        promotePreview: () => Promise.resolve(outcome('dryRun')),
        promote: () => Promise.reject({ code: 'no-forge', message: 'set GITHUB_TOKEN', location: null }),
      }),
    );
    await store.preview('dev', 'staging');
    await store.create();
    expect(get(store)).toMatchObject({ phase: 'failed', error: { code: 'no-forge' }, outcome: { status: 'dryRun' } });
  });
});
