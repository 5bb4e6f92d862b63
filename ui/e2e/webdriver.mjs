// A minimal W3C WebDriver client over HTTP (Node's fetch): just what the app's end-to-end tests
// need, so the tests depend on no browser-automation framework.

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriver {
  static ESCAPE = '\uE00C';
  static TAB = '\uE004';
  static SHIFT = '\uE008';
  /** Shift+Tab, for `keys`. */
  static SHIFT_TAB = 'shift+tab';
  /** @param {string} base e.g. http://127.0.0.1:4444 */
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async command(method, path, body) {
    const response = await fetch(this.base + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok || json?.value?.error) {
      const error = json?.value?.error ?? response.status;
      throw new Error(`WebDriver ${method} ${path}: ${error}: ${json?.value?.message ?? ''}`);
    }
    return json.value;
  }

  sessionPath(path) {
    if (!this.session) throw new Error('no WebDriver session');
    return `/session/${this.session}${path}`;
  }

  async start(capabilities) {
    const value = await this.command('POST', '/session', { capabilities: { alwaysMatch: capabilities } });
    this.session = value.sessionId;
    return value;
  }

  async quit() {
    if (this.session) await this.command('DELETE', `/session/${this.session}`).catch(() => {});
    this.session = null;
  }

  /** Runs `script` (a function body) in the page and returns its result. */
  execute(script, ...args) {
    return this.command('POST', this.sessionPath('/execute/sync'), { script, args });
  }

  async find(css) {
    const value = await this.command('POST', this.sessionPath('/element'), { using: 'css selector', value: css });
    const id = value?.[ELEMENT];
    if (!id) throw new Error(`WebDriver: no element id in ${JSON.stringify(value)} for ${css}`);
    return id;
  }

  async click(css) {
    const element = await this.find(css);
    // WebKitWebDriver refuses clicks on elements outside the viewport.
    await this.execute('document.querySelector(arguments[0]).scrollIntoView({ block: "center" });', css);
    await this.command('POST', this.sessionPath(`/element/${element}/click`), {});
  }

  /**
   * Types keys into whatever has the focus, as a user would (W3C actions): characters, or
   * `WebDriver.ESCAPE`/`WebDriver.TAB`/`WebDriver.SHIFT` codes.
   */
  async keys(...keys) {
    const actions = [];
    for (const key of keys) {
      if (key === WebDriver.SHIFT_TAB) {
        actions.push({ type: 'keyDown', value: WebDriver.SHIFT }, { type: 'keyDown', value: WebDriver.TAB });
        actions.push({ type: 'keyUp', value: WebDriver.TAB }, { type: 'keyUp', value: WebDriver.SHIFT });
        continue;
      }
      for (const char of key) {
        actions.push({ type: 'keyDown', value: char }, { type: 'keyUp', value: char });
      }
    }
    await this.command('POST', this.sessionPath('/actions'), { actions: [{ type: 'key', id: 'keyboard', actions }] });
    await this.command('DELETE', this.sessionPath('/actions')).catch(() => {});
  }

  /** The rendered text of the first match, or null when nothing matches. */
  async text(css) {
    return this.execute('const e = document.querySelector(arguments[0]); return e ? e.textContent : null;', css);
  }

  async count(css) {
    return this.execute('return document.querySelectorAll(arguments[0]).length;', css);
  }

  /** Resolves once the page has painted twice, so a screenshot shows the current DOM. */
  async painted() {
    await this.command('POST', this.sessionPath('/execute/async'), {
      script: 'const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));',
      args: [],
    });
  }

  /** A PNG of the window, after the page has painted what its DOM holds now. */
  async screenshot() {
    await this.painted();
    return Buffer.from(await this.command('GET', this.sessionPath('/screenshot')), 'base64');
  }
}

/**
 * Polls `probe` until it returns a truthy value and returns that value; throws with `what` and
 * the last value seen when `seconds` pass. A bound on waiting, not a speed assertion.
 */
export async function waitFor(what, probe, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}
