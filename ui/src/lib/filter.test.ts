import { describe, expect, it } from 'vitest';
import { filterEnvs, filterResources, matches, terms } from './filter';
import type { EnvOverview, Resource } from './types';

const resource = (groupKind: string, name: string, action: Resource['action'], source: string | null = null): Resource => ({
  id: `${groupKind}/${name}`,
  action,
  source,
  health: null,
  diff: '',
  groupKind,
  namespace: 'iris-dev',
  name,
});

const RESOURCES = [
  resource('Deployment.apps', 'iris-server', 'update', 'environments/dev/iris-server.yaml:2'),
  resource('ConfigMap', 'iris-server-config', 'create', 'environments/dev/config.yaml:2'),
  resource('Service', 'iris-server', 'unchanged'),
  resource('ConfigMap', 'old-config', 'prune'),
];

const card = (name: string, syncState: EnvOverview['syncState'], extra: Partial<EnvOverview> = {}): EnvOverview => ({
  name,
  namespace: `iris-${name}`,
  context: null,
  protected: false,
  model: null,
  syncState,
  health: null,
  counts: { create: 0, update: 0, prune: 0, unchanged: 0, orphan: 0 } as EnvOverview['counts'],
  errors: [],
  warnings: 0,
  lastRevision: null,
  ...extra,
});

describe('filter', () => {
  it('splits a query into lower-cased terms', () => {
    expect(terms('  Deploy   IRIS ')).toEqual(['deploy', 'iris']);
    expect(terms('   ')).toEqual([]);
  });

  it('needs every term in some field', () => {
    expect(matches('deploy iris', ['Deployment.apps', 'iris-server'])).toBe(true);
    expect(matches('deploy config', ['Deployment.apps', 'iris-server'])).toBe(false);
    expect(matches('', [])).toBe(true);
    expect(matches('x', [null, undefined])).toBe(false);
  });

  it('narrows resources by kind, name, action and source', () => {
    const names = (q: string) => filterResources(RESOURCES, q).map((r) => r.id);
    expect(names('configmap')).toEqual(['ConfigMap/iris-server-config', 'ConfigMap/old-config']);
    expect(names('prune')).toEqual(['ConfigMap/old-config']);
    expect(names('iris-server update')).toEqual(['Deployment.apps/iris-server']);
    expect(names('config.yaml')).toEqual(['ConfigMap/iris-server-config']);
    expect(names('nothing-like-this')).toEqual([]);
    expect(filterResources(RESOURCES, ' ')).toBe(RESOURCES);
  });

  it('narrows env cards by name, state, model and protection', () => {
    const cards = [
      card('dev', 'outOfSync', { model: { name: 'iris', version: 'v2', path: 'models/iris' } }),
      card('staging', 'synced'),
      card('prod', 'synced', { protected: true, context: 'prod-cluster' }),
    ];
    const names = (q: string) => filterEnvs(cards, q).map((c) => c.name);
    expect(names('out of sync')).toEqual(['dev']);
    expect(names('synced')).toEqual(['staging', 'prod']);
    expect(names('protected')).toEqual(['prod']);
    expect(names('v2')).toEqual(['dev']);
    expect(names('PROD-cluster')).toEqual(['prod']);
    expect(names('')).toEqual(['dev', 'staging', 'prod']);
  });
});
