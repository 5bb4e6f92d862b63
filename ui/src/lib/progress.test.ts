import { describe, expect, it } from 'vitest';
import { emptyProgress, reduceProgress } from './progress';
import type { ProgressEvent } from './types';

describe('reduceProgress', () => {
  it('groups applied objects under the tier that was running and tracks health', () => {
    const events: ProgressEvent[] = [
      { env: 'dev', event: 'planned', changes: 3 },
      { env: 'dev', event: 'namespaceCreated', namespace: 'iris-dev' },
      { env: 'dev', event: 'locked', holder: 'me' },
      { env: 'dev', event: 'tierStarted', tier: 'config', objects: 1 },
      { env: 'dev', event: 'applied', object: 'ConfigMap iris-dev/c' },
      { env: 'dev', event: 'tierStarted', tier: 'workloads', objects: 1 },
      { env: 'dev', event: 'applied', object: 'Deployment.apps iris-dev/d' },
      { env: 'dev', event: 'health', object: 'Deployment.apps iris-dev/d', health: 'progressing', message: '0/1' },
      { env: 'dev', event: 'health', object: 'Deployment.apps iris-dev/d', health: 'healthy', message: 'ready' },
      { env: 'dev', event: 'pruned', object: 'Service iris-dev/old' },
      { env: 'dev', event: 'recorded', revision: 4 },
    ];
    const start = emptyProgress();
    const state = events.reduce(reduceProgress, start);
    expect(start.tiers).toEqual([]); // not modified
    expect(state.changes).toBe(3);
    expect(state.namespaceCreated).toBe('iris-dev');
    expect(state.tiers).toEqual([
      { tier: 'config', objects: 1, applied: ['ConfigMap iris-dev/c'] },
      { tier: 'workloads', objects: 1, applied: ['Deployment.apps iris-dev/d'] },
    ]);
    expect(state.health['Deployment.apps iris-dev/d']).toEqual({ health: 'healthy', message: 'ready' });
    expect(state.pruned).toEqual(['Service iris-dev/old']);
    expect(state.revision).toBe(4);
    expect(state.log).toHaveLength(events.length);
    expect(state.log[3]).toBe('applying config (1)');
  });
});
