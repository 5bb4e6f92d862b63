// Folds a sync's progress events into what the progress panel shows: tiers in apply order with
// the objects applied in each, live health per object, prunes, and the recorded revision.

import type { Health, ProgressEvent } from './types';

export interface TierProgress {
  tier: string;
  objects: number;
  applied: string[];
}

export interface ProgressState {
  changes: number | null;
  lockedBy: string | null;
  namespaceCreated: string | null;
  tiers: TierProgress[];
  health: Record<string, { health: Health; message: string }>;
  pruned: string[];
  pruneSkipped: { object: string; reason: string }[];
  revision: number | null;
  rollingBackTo: number | null;
  /** Every event as a line, for the log under the panel. */
  log: string[];
}

export const emptyProgress = (): ProgressState => ({
  changes: null,
  lockedBy: null,
  namespaceCreated: null,
  tiers: [],
  health: {},
  pruned: [],
  pruneSkipped: [],
  revision: null,
  rollingBackTo: null,
  log: [],
});

/** The state after `event`; `state` is not modified. */
export function reduceProgress(state: ProgressState, event: ProgressEvent): ProgressState {
  const next: ProgressState = { ...state, log: [...state.log, describe(event)] };
  switch (event.event) {
    case 'planned':
      return { ...next, changes: event.changes };
    case 'locked':
      return { ...next, lockedBy: event.holder };
    case 'namespaceCreated':
      return { ...next, namespaceCreated: event.namespace };
    case 'tierStarted':
      return { ...next, tiers: [...state.tiers, { tier: event.tier, objects: event.objects, applied: [] }] };
    case 'applied': {
      const tiers = state.tiers.slice();
      const last = tiers[tiers.length - 1];
      if (last) tiers[tiers.length - 1] = { ...last, applied: [...last.applied, event.object] };
      return { ...next, tiers };
    }
    case 'health':
      return { ...next, health: { ...state.health, [event.object]: { health: event.health, message: event.message } } };
    case 'pruned':
      return { ...next, pruned: [...state.pruned, event.object] };
    case 'pruneSkipped':
      return { ...next, pruneSkipped: [...state.pruneSkipped, { object: event.object, reason: event.reason }] };
    case 'recorded':
      return { ...next, revision: event.revision };
    case 'rollingBack':
      return { ...next, rollingBackTo: event.to };
  }
}

/** One log line per event. */
export function describe(event: ProgressEvent): string {
  switch (event.event) {
    case 'planned':
      return `planned: ${event.changes} change(s)`;
    case 'locked':
      return `locked by ${event.holder}`;
    case 'namespaceCreated':
      return `created namespace ${event.namespace}`;
    case 'tierStarted':
      return `applying ${event.tier} (${event.objects})`;
    case 'applied':
      return `applied ${event.object}`;
    case 'health':
      return `${event.object}: ${event.health} (${event.message})`;
    case 'pruned':
      return `pruned ${event.object}`;
    case 'pruneSkipped':
      return `not pruned ${event.object}: ${event.reason}`;
    case 'recorded':
      return `recorded revision ${event.revision}`;
    case 'rollingBack':
      return `rolling back to revision ${event.to}`;
  }
}
