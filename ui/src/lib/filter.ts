// The text filters over the env detail's resources and the overview's env cards. A query is
// whitespace-separated terms; an item matches when every term is a case-insensitive substring
// of one of its fields, so `deploy iris` finds the Deployment named iris-server and `prune`
// finds what a sync would delete.

import { stateLabel } from './format';
import type { EnvOverview, Resource } from './types';

/** The query's terms, lower-cased; none for a blank query. */
export function terms(query: string): string[] {
  return query.toLowerCase().split(/\s+/).filter(Boolean);
}

/** Whether every term occurs in one of the fields. */
export function matches(query: string, fields: readonly (string | null | undefined)[]): boolean {
  const wanted = terms(query);
  if (wanted.length === 0) return true;
  const haystack = fields.filter((f): f is string => !!f).map((f) => f.toLowerCase());
  return wanted.every((term) => haystack.some((field) => field.includes(term)));
}

/** Resources by kind, name, action, health and source file. */
export function filterResources(resources: Resource[], query: string): Resource[] {
  if (terms(query).length === 0) return resources;
  return resources.filter((r) => matches(query, [r.groupKind, r.name, r.action, r.health?.health, r.source, r.namespace]));
}

/** Env cards by name, namespace, context, sync state, health and model. */
export function filterEnvs(cards: EnvOverview[], query: string): EnvOverview[] {
  if (terms(query).length === 0) return cards;
  return cards.filter((c) =>
    matches(query, [c.name, c.namespace, c.context, c.syncState, stateLabel[c.syncState], c.health, c.model?.name, c.model?.version, c.protected ? 'protected' : null]),
  );
}
