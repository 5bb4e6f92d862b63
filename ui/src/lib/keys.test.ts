import { afterEach, describe, expect, it, vi } from 'vitest';
import { dialog } from './dialog';
import { FILTER_ATTRIBUTE, focusFilter, refreshView, shortcutFor, typingInto } from './keys';

function press(key: string, target: HTMLElement = document.body, init: KeyboardEventInit = {}): KeyboardEvent {
  let seen: KeyboardEvent | undefined;
  const listener = (event: Event) => (seen = event as KeyboardEvent);
  document.addEventListener('keydown', listener);
  target.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init }));
  document.removeEventListener('keydown', listener);
  if (!seen) throw new Error('no event');
  return seen;
}

describe('shortcuts', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('maps / and r outside text fields', () => {
    expect(shortcutFor(press('/'))).toBe('filter');
    expect(shortcutFor(press('r'))).toBe('refresh');
    expect(shortcutFor(press('x'))).toBeNull();
    expect(shortcutFor(press('r', document.body, { ctrlKey: true }))).toBeNull();
    expect(shortcutFor(press('R'))).toBeNull();
  });

  it('leaves typing alone: text inputs, textareas, selects', () => {
    document.body.innerHTML = '<input id="t"><input id="c" type="checkbox"><textarea id="a"></textarea><select id="s"></select>';
    const el = (id: string) => document.getElementById(id) as HTMLElement;
    expect(shortcutFor(press('r', el('t')))).toBeNull();
    expect(shortcutFor(press('/', el('a')))).toBeNull();
    expect(shortcutFor(press('r', el('s')))).toBeNull();
    expect(typingInto(el('c'))).toBe(false);
    expect(shortcutFor(press('r', el('c')))).toBe('refresh');
  });

  it('is off while a dialog is open', () => {
    const root = document.createElement('div');
    document.body.append(root);
    const action = dialog(root, { onClose: null });
    expect(shortcutFor(press('r'))).toBeNull();
    action.destroy();
    expect(shortcutFor(press('r'))).toBe('refresh');
  });

  it('focuses the marked filter input, if the view has one', () => {
    expect(focusFilter()).toBe(false);
    document.body.innerHTML = `<input id="other"><input id="filter" ${FILTER_ATTRIBUTE} value="abc">`;
    expect(focusFilter()).toBe(true);
    expect(document.activeElement?.id).toBe('filter');
  });

  it('refreshes what the current view shows', async () => {
    const fake = () => ({
      loadOverview: vi.fn(async () => {}),
      loadRemote: vi.fn(async () => {}),
      loadDetail: vi.fn(async (_env: string) => {}),
      loadHistory: vi.fn(async (_env: string) => {}),
    });
    let stores = fake();
    await refreshView({ view: 'overview' }, stores);
    expect(stores.loadOverview).toHaveBeenCalledTimes(1);
    expect(stores.loadRemote).toHaveBeenCalledTimes(1);
    expect(stores.loadDetail).not.toHaveBeenCalled();

    stores = fake();
    await refreshView({ view: 'env', env: 'dev', tab: 'resources' }, stores);
    expect(stores.loadDetail).toHaveBeenCalledWith('dev');
    expect(stores.loadHistory).not.toHaveBeenCalled();
    expect(stores.loadOverview).not.toHaveBeenCalled();

    stores = fake();
    await refreshView({ view: 'env', env: 'prod', tab: 'history' }, stores);
    expect(stores.loadDetail).toHaveBeenCalledWith('prod');
    expect(stores.loadHistory).toHaveBeenCalledWith('prod');

    stores = fake();
    await refreshView({ view: 'promote' }, stores);
    expect(Object.values(stores).every((f) => f.mock.calls.length === 0)).toBe(true);
  });
});
