// Keyboard behaviour of a modal dialog, as one Svelte action every modal root uses
// (`use:dialog={{ onClose }}`): focus moves into the dialog when it opens and back where it was
// when it closes, Tab and Shift+Tab cycle inside it, and Esc closes it. `onClose: null` keeps the
// dialog open on Esc, for the phases where closing is not allowed (an operation is running and the
// close button is hidden).

export interface DialogOptions {
  /** Called on Esc; `null` while the dialog must stay open. */
  onClose: (() => void) | null;
}

const FOCUSABLE = [
  'a[href]',
  'button:not([disabled])',
  'input:not([disabled]):not([type="hidden"])',
  'select:not([disabled])',
  'textarea:not([disabled])',
  '[tabindex]:not([tabindex="-1"])',
].join(', ');

/** The elements of `root` that Tab reaches, in document order. */
export function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !el.closest('[hidden], [inert]'));
}

/** Open dialogs, innermost last: only the innermost one handles keys. */
const stack: HTMLElement[] = [];

/** Whether a dialog is open (the app's single-key shortcuts are off then). */
export const dialogOpen = (): boolean => stack.length > 0;

export function dialog(node: HTMLElement, options: DialogOptions) {
  let current = options;
  const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  if (!node.hasAttribute('tabindex')) node.setAttribute('tabindex', '-1');
  stack.push(node);
  node.focus({ preventScroll: true });

  const onKeydown = (event: KeyboardEvent) => {
    if (stack[stack.length - 1] !== node) return;
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      current.onClose?.();
      return;
    }
    if (event.key !== 'Tab') return;
    const items = focusables(node);
    const active = document.activeElement;
    const inside = active instanceof Node && node.contains(active);
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) {
      event.preventDefault();
      node.focus({ preventScroll: true });
      return;
    }
    if (event.shiftKey && (!inside || active === first || active === node)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (!inside || active === last || active === node)) {
      event.preventDefault();
      first.focus();
    }
  };
  // On the document, so Esc and Tab still work after the focused element inside was re-rendered away.
  document.addEventListener('keydown', onKeydown, true);

  return {
    update(next: DialogOptions) {
      current = next;
    },
    destroy() {
      document.removeEventListener('keydown', onKeydown, true);
      const at = stack.indexOf(node);
      if (at >= 0) stack.splice(at, 1);
      if (previous?.isConnected) previous.focus({ preventScroll: true });
    },
  };
}
