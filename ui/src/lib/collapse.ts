// Which object diffs a preview shows open. Small plans show every diff; past COLLAPSE_OVER changed
// objects the diffs start collapsed (a plan of hundreds of objects would otherwise be a page of
// thousands of lines), each object opens on its own, and "Expand all"/"Collapse all" set them all.

/** More changed objects than this and the diffs start collapsed. */
export const COLLAPSE_OVER = 10;

export interface Expansion {
  /** The state of the objects nobody toggled. */
  all: boolean;
  /** Objects toggled one by one, by key. */
  toggled: Record<string, boolean>;
}

/** The initial state for a plan with `count` changed objects. */
export const initialExpansion = (count: number): Expansion => ({ all: count <= COLLAPSE_OVER, toggled: {} });

export const isExpanded = (e: Expansion, key: string): boolean => e.toggled[key] ?? e.all;

export const toggle = (e: Expansion, key: string): Expansion => ({ ...e, toggled: { ...e.toggled, [key]: !isExpanded(e, key) } });

/** Expand all (`true`) or collapse all (`false`), forgetting single toggles. */
export const setAll = (all: boolean): Expansion => ({ all, toggled: {} });
