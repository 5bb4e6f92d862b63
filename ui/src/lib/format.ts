// Small display helpers.

import type { Counts, Health, SyncState } from './types';

export function shortSha(sha: string | null, dirty = false): string {
  if (!sha) return '—';
  return sha.slice(0, 8) + (dirty ? '+' : '');
}

/** "3 min ago" style relative time; absolute for anything older than a week. */
export function timeAgo(iso: string, now: Date = new Date()): string {
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return iso;
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days <= 7) return `${days} d ago`;
  return then.toISOString().slice(0, 10);
}

export function changeCount(counts: Counts): number {
  return counts.create + counts.update + counts.prune;
}

export const stateLabel: Record<SyncState, string> = {
  synced: 'Synced',
  outOfSync: 'Out of sync',
  unknown: 'Unknown',
};

export function healthLabel(health: Health | null): string {
  return health ?? 'n/a';
}
