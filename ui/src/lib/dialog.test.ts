import { afterEach, describe, expect, it, vi } from 'vitest';
import { dialog, dialogOpen, focusables } from './dialog';

const key = (key: string, init: KeyboardEventInit = {}) => {
  const event = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init });
  (document.activeElement ?? document.body).dispatchEvent(event);
  return event;
};

function modal(html: string): HTMLElement {
  const root = document.createElement('div');
  root.innerHTML = html;
  document.body.append(root);
  return root;
}

describe('dialog action', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('moves the focus into the dialog on open and back on close', () => {
    const opener = document.createElement('button');
    document.body.append(opener);
    opener.focus();
    const root = modal('<button id="a">a</button>');
    const action = dialog(root, { onClose: null });
    expect(document.activeElement).toBe(root);
    expect(dialogOpen()).toBe(true);
    action.destroy();
    expect(document.activeElement).toBe(opener);
    expect(dialogOpen()).toBe(false);
  });

  it('closes on Esc, and stays open while onClose is null', () => {
    const root = modal('<button id="a">a</button>');
    const onClose = vi.fn();
    const action = dialog(root, { onClose: null });
    expect(key('Escape').defaultPrevented).toBe(true);
    expect(onClose).not.toHaveBeenCalled();
    action.update({ onClose });
    key('Escape');
    expect(onClose).toHaveBeenCalledTimes(1);
    action.destroy();
    key('Escape');
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('cycles Tab and Shift+Tab inside the dialog, skipping disabled controls', () => {
    const root = modal('<button id="a">a</button><input id="b"><button id="c" disabled>c</button><button id="d">d</button>');
    const action = dialog(root, { onClose: null });
    expect(focusables(root).map((el) => el.id)).toEqual(['a', 'b', 'd']);
    key('Tab');
    expect(document.activeElement?.id).toBe('a');
    (root.querySelector('#d') as HTMLElement).focus();
    expect(key('Tab').defaultPrevented).toBe(true);
    expect(document.activeElement?.id).toBe('a');
    key('Tab', { shiftKey: true });
    expect(document.activeElement?.id).toBe('d');
    // In the middle, the browser moves the focus itself.
    (root.querySelector('#b') as HTMLElement).focus();
    expect(key('Tab').defaultPrevented).toBe(false);
    // Focus that escaped (e.g. to the body) comes back in.
    (document.activeElement as HTMLElement).blur();
    key('Tab', { shiftKey: true });
    expect(document.activeElement?.id).toBe('d');
    action.destroy();
  });

  it('lets only the innermost of two open dialogs handle Esc', () => {
    const outer = vi.fn();
    const inner = vi.fn();
    const a = dialog(modal('<button>a</button>'), { onClose: outer });
    const b = dialog(modal('<button>b</button>'), { onClose: inner });
    key('Escape');
    expect(inner).toHaveBeenCalledTimes(1);
    expect(outer).not.toHaveBeenCalled();
    b.destroy();
    key('Escape');
    expect(outer).toHaveBeenCalledTimes(1);
    a.destroy();
  });
});
