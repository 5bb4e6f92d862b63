import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import DiffView from './DiffView.svelte';

const DIFF = '--- live: X\n+++ after sync: X\n@@ -1,2 +1,2 @@\n data:\n-  LOG_LEVEL: debug\n+  LOG_LEVEL: trace\n';

describe('DiffView', () => {
  let component: ReturnType<typeof mount> | undefined;
  afterEach(() => {
    if (component) unmount(component);
    document.body.innerHTML = '';
  });

  it('renders unified rows with numbers, markers and YAML colouring', () => {
    component = mount(DiffView, { target: document.body, props: { diff: DIFF } });
    const added = document.querySelector('tr.add');
    const deleted = document.querySelector('tr.delete');
    expect(added?.querySelector('.code')?.textContent).toBe('  LOG_LEVEL: trace');
    expect(deleted?.querySelector('.mark')?.textContent).toBe('-');
    expect([...(added?.querySelectorAll('td.no') ?? [])].map((td) => td.textContent)).toEqual(['', '2']);
    expect(added?.querySelector('.tok-key')?.textContent).toBe('LOG_LEVEL');
    expect(document.querySelector('.stat.add')?.textContent).toBe('+1');
  });

  it('switches to side by side, with the old line left of the new one', () => {
    component = mount(DiffView, { target: document.body, props: { diff: DIFF } });
    const buttons = [...document.querySelectorAll('.toggle button')] as HTMLButtonElement[];
    buttons.find((b) => b.textContent === 'Side by side')?.click();
    flushSync();
    expect(document.querySelector('table.split')).not.toBeNull();
    const changed = document.querySelector('td.side.delete')?.parentElement;
    const cells = [...(changed?.querySelectorAll('td.code') ?? [])].map((td) => td.textContent);
    expect(cells).toEqual(['  LOG_LEVEL: debug', '  LOG_LEVEL: trace']);
  });

  it('says so when there is nothing to show, and escapes markup in manifests', () => {
    component = mount(DiffView, { target: document.body, props: { diff: '' } });
    expect(document.querySelector('.diff-empty')?.textContent).toBe('No differences.');
    unmount(component);
    component = mount(DiffView, { target: document.body, props: { diff: '@@ -1 +1 @@\n+a: <img src=x onerror=alert(1)>\n' } });
    expect(document.querySelector('img')).toBeNull();
    expect(document.querySelector('tr.add .code')?.textContent).toBe('a: <img src=x onerror=alert(1)>');
  });
});
