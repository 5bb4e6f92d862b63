// Dark mode: the app follows the system's colour scheme. WebKitGTK reports
// `prefers-color-scheme: dark` when the GTK theme is a dark variant, so this launch sets
// GTK_THEME=Adwaita:dark and checks the page's colours, not just the media query.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './webdriver.mjs';
import { exampleRepo, saveShot, startApp } from './launch.mjs';

describe('coxswain-app in a dark desktop', () => {
  const work = mkdtempSync(join(tmpdir(), 'coxswain-e2e-dark-'));
  const repo = exampleRepo(join(work, 'repo'));
  let app;

  before(async () => {
    app = await startApp({ COXSWAIN_REPO: repo, XDG_CONFIG_HOME: join(work, 'config'), GTK_THEME: 'Adwaita:dark' });
  });

  after(async () => {
    await app?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('uses the dark palette when the system prefers it', async () => {
    const { driver } = app;
    await waitFor('three env cards', async () => (await driver.count('[data-testid^="env-card-"]')) === 3);
    assert.equal(await driver.execute('return matchMedia("(prefers-color-scheme: dark)").matches'), true);
    const colours = await driver.execute(`
      const style = (css, prop) => getComputedStyle(document.querySelector(css))[prop];
      return {
        page: getComputedStyle(document.documentElement).backgroundColor,
        text: getComputedStyle(document.documentElement).color,
        card: style('[data-testid="env-card-dev"]', 'backgroundColor'),
        input: style('[data-testid="env-filter"]', 'backgroundColor'),
      };`);
    assert.deepEqual(colours, {
      page: 'rgb(15, 20, 25)',
      text: 'rgb(228, 232, 238)',
      card: 'rgb(23, 29, 37)',
      input: 'rgb(16, 22, 29)',
    });
    await waitFor('dev planned', () => driver.text('[data-testid="changes-dev"]'));
    await saveShot(driver, 'overview-dark');

    // A diff in the preview: its rows are dark too, not the light theme's white.
    await driver.click('[data-testid="env-card-dev"]');
    await waitFor('the resource table', () => driver.count('[data-testid="resources"] tbody tr'));
    await driver.click('[data-testid="apply"]');
    await waitFor('the preview', () => driver.count('[data-testid="preview-modal"] tr.add'));
    const added = await driver.execute('return getComputedStyle(document.querySelector("[data-testid=preview-modal] tr.add td")).backgroundColor');
    assert.equal(added, 'rgb(19, 51, 35)');
    await saveShot(driver, 'apply-preview-dark');
  });

  it('keeps the webdriver log quiet about errors', () => {
    assert.doesNotMatch(app.log(), /panicked/);
  });
});
