// The app's single-key shortcuts: `/` focuses the current view's filter, `r` refreshes the view.
// They act only when no text field has the focus, no modifier is held and no dialog is open, so
// typing a name or a path is never taken for a shortcut.

import { dialogOpen } from './dialog';
import type { Route } from './stores';

export type Shortcut = 'filter' | 'refresh';

/** Whether keys typed now go into a text field (or a select). */
export function typingInto(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes(target.type);
  }
  return false;
}

/** The shortcut a key press means, or null when it is ordinary typing. */
export function shortcutFor(event: KeyboardEvent): Shortcut | null {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return null;
  if (dialogOpen() || typingInto(event.target)) return null;
  if (event.key === '/') return 'filter';
  if (event.key === 'r') return 'refresh';
  return null;
}

/** Marks the filter input `/` focuses (one per view; written literally in the views). */
export const FILTER_ATTRIBUTE = 'data-shortcut-filter';

/** Focuses the current view's filter; false when the view has none. */
export function focusFilter(root: ParentNode = document): boolean {
  const input = root.querySelector<HTMLInputElement>(`[${FILTER_ATTRIBUTE}]`);
  if (!input) return false;
  input.focus();
  input.select();
  return true;
}

/** What `r` reloads, per view; the stores are passed in so tests drive fakes. */
export interface Refreshers {
  loadOverview(): Promise<void>;
  loadRemote(): Promise<void>;
  loadDetail(env: string): Promise<void>;
  loadHistory(env: string): Promise<void>;
}

/** Re-plans what the current view shows; resolves when every reload finished. */
export async function refreshView(route: Route, stores: Refreshers): Promise<void> {
  if (route.view === 'overview') {
    await Promise.all([stores.loadOverview(), stores.loadRemote()]);
  } else if (route.view === 'env') {
    await Promise.all([stores.loadDetail(route.env), route.tab === 'history' ? stores.loadHistory(route.env) : Promise.resolve()]);
  }
}
