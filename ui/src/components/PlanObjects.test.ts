import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { COLLAPSE_OVER, initialExpansion, isExpanded, setAll, toggle } from '../lib/collapse';
import type { ObjectPlan } from '../lib/types';
import PlanObjects from './PlanObjects.svelte';

const object = (i: number): ObjectPlan => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  action: 'update',
  source: { file: `environments/dev/c${i}.yaml`, line: 2 } as ObjectPlan['source'],
  diff: `@@ -1 +1 @@\n-a: ${i}\n+a: ${i + 1}\n`,
  serverDryRun: true,
  groupKind: 'ConfigMap',
  namespace: 'iris-dev',
  name: `c${i}`,
});
const plan = (n: number) => Array.from({ length: n }, (_, i) => object(i));

describe('collapse', () => {
  it('starts open up to the threshold and collapsed past it', () => {
    expect(initialExpansion(COLLAPSE_OVER).all).toBe(true);
    expect(initialExpansion(COLLAPSE_OVER + 1).all).toBe(false);
  });

  it('toggles one object, and expand/collapse all forget single toggles', () => {
    let e = toggle(initialExpansion(20), 'a');
    expect(isExpanded(e, 'a')).toBe(true);
    expect(isExpanded(e, 'b')).toBe(false);
    e = toggle(e, 'a');
    expect(isExpanded(e, 'a')).toBe(false);
    e = setAll(true);
    expect(isExpanded(e, 'a') && isExpanded(e, 'b')).toBe(true);
  });
});

describe('PlanObjects', () => {
  let component: ReturnType<typeof mount> | undefined;
  afterEach(() => {
    if (component) unmount(component);
    component = undefined;
    document.body.innerHTML = '';
  });
  const diffs = () => document.querySelectorAll('[data-testid="diff"]').length;
  const click = (testid: string, index = 0) => {
    (document.querySelectorAll(`[data-testid="${testid}"]`)[index] as HTMLButtonElement).click();
    flushSync();
  };

  it('shows every diff of a small plan', () => {
    component = mount(PlanObjects, { target: document.body, props: { objects: plan(3) } });
    expect(diffs()).toBe(3);
  });

  it('collapses a large plan, with per-object toggles and expand/collapse all', () => {
    component = mount(PlanObjects, { target: document.body, props: { objects: plan(COLLAPSE_OVER + 2) } });
    expect(document.querySelectorAll('[data-testid="plan-object"]').length).toBe(COLLAPSE_OVER + 2);
    expect(diffs()).toBe(0);
    // A collapsed object still says how much changes.
    expect(document.querySelector('.object-head .stat.add')?.textContent).toBe('+1');
    click('toggle-object', 3);
    expect(diffs()).toBe(1);
    expect(document.querySelectorAll('[data-testid="toggle-object"]')[3]?.getAttribute('aria-expanded')).toBe('true');
    click('expand-all');
    expect(diffs()).toBe(COLLAPSE_OVER + 2);
    click('toggle-object', 0);
    expect(diffs()).toBe(COLLAPSE_OVER + 1);
    click('collapse-all');
    expect(diffs()).toBe(0);
  });
});
