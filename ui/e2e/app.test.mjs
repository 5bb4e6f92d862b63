// End-to-end tests of the built desktop app in a real WebKitGTK webview, driven through
// tauri-driver and WebKitWebDriver. Run under a display (`scripts/test --app` uses xvfb-run):
//   COXSWAIN_APP=path/to/coxswain-app node --test e2e/
// The app runs against its in-process cluster (COXSWAIN_CLUSTER=memory) on a git copy of the
// bundled example repo, so nothing outside a temp directory is touched. Screenshots of the main
// views go to COXSWAIN_SCREENSHOTS (scripts/test: target/screenshots), else docs/screenshots/.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebDriver, waitFor } from './webdriver.mjs';
import { startForge } from './forge.mjs';
import { exampleRepo, saveShot, startApp } from './launch.mjs';

/** A model server image that never becomes ready in the demo cluster. */
const LOADING_IMAGE = 'ghcr.io/acme-ml/iris-server:9.9.9-loading';

describe('coxswain-app', () => {
  const work = mkdtempSync(join(tmpdir(), 'coxswain-e2e-'));
  const repo = exampleRepo(join(work, 'repo'));
  const config = join(repo, 'environments/dev/config.yaml');
  let app;
  let driver;
  let forge;

  const shot = (name) => saveShot(driver, name);
  const changes = (env) => driver.text(`[data-testid="changes-${env}"]`);
  const overview = async () => {
    await driver.click('[data-testid="nav-overview"]');
    await waitFor('the overview', () => driver.count('[data-testid^="env-card-"]'));
  };
  const confirmAndWait = async () => {
    await driver.click('[data-testid="confirm"]');
    return waitFor('the result', () => driver.text('[data-testid="result"]'), 120);
  };
  /** Expands a resource row (a second click would fold it again). */
  const openResource = async (id) => {
    const row = `[data-testid="resource-${id}"]`;
    await waitFor(`resource ${id}`, () => driver.count(row));
    if ((await driver.execute('return document.querySelector(arguments[0]).getAttribute("aria-expanded")', row)) !== 'true') {
      await driver.click(row);
    }
  };
  const liveText = async () => {
    await driver.click('[data-testid="show-live"]');
    return waitFor('the live object', () => driver.text('[data-testid="live-object"]'));
  };

  before(async () => {
    forge = await startForge();
    app = await startApp({
      // A model server that never becomes ready: a sync waits for its health (and is cancelled).
      COXSWAIN_MEMORY_NOT_READY: LOADING_IMAGE,
      COXSWAIN_REPO: repo,
      XDG_CONFIG_HOME: join(work, 'config'),
      // GitHub as GitHub Actions describes it, pointed at the stand-in.
      GITHUB_TOKEN: 'e2e-token',
      GITHUB_REPOSITORY: 'acme/gitops',
      GITHUB_API_URL: forge.url,
    });
    driver = app.driver;
  });

  after(async () => {
    await app?.stop();
    forge?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('shows the three environments of the example repo, each with its changes', async () => {
    await waitFor('three env cards', async () => (await driver.count('[data-testid^="env-card-"]')) === 3);
    const names = await driver.execute(
      'return [...document.querySelectorAll("[data-testid^=env-card-]")].map(e => e.dataset.testid.slice(9));',
    );
    assert.deepEqual(names, ['dev', 'staging', 'prod']);
    // An empty cluster: every object and the namespace are to be created.
    assert.equal(await waitFor('dev planned', () => changes('dev')), '5');
    assert.equal(await changes('prod'), '7');
    assert.equal(await driver.text('[data-testid="sync-state-dev"]'), 'Out of sync');
    await shot('overview');
  });

  it('filters with /, closes the preview with Esc and keeps the focus inside it', async () => {
    const active = () => driver.execute('return document.activeElement?.dataset?.testid ?? document.activeElement?.tagName');
    const cards = () => driver.count('[data-testid^="env-card-"]');
    // `/` focuses the overview's filter; Esc in it clears it.
    await driver.execute('document.activeElement?.blur()');
    await driver.keys('/');
    assert.equal(await active(), 'env-filter');
    await driver.keys('prod');
    await waitFor('one card', async () => (await cards()) === 1);
    assert.equal(await driver.count('[data-testid="env-card-prod"]'), 1);
    await driver.keys(WebDriver.ESCAPE);
    await waitFor('three cards again', async () => (await cards()) === 3);

    await driver.click('[data-testid="env-card-dev"]');
    const rows = () => driver.count('[data-testid="resources"] tbody tr');
    const total = await waitFor('the resource table', rows);
    await driver.execute('document.activeElement?.blur()');
    await driver.keys('/');
    assert.equal(await active(), 'resource-filter');
    await driver.keys('configmap');
    await waitFor('only the ConfigMap', async () => (await rows()) < total);
    const kinds = await driver.execute('return [...document.querySelectorAll("[data-testid=resources] tbody tr td:first-child")].map(td => td.textContent)');
    assert.deepEqual(kinds, ['ConfigMap']);
    assert.match(await driver.text('[data-testid="resource-count"]'), new RegExp(`^1 of ${total}$`));
    await shot('resource-filter');
    await driver.keys('-nothing-like-this');
    assert.match(await waitFor('no match', () => driver.text('[data-testid="no-match"]')), /No resource matches/);
    await driver.keys(WebDriver.ESCAPE);
    await waitFor('every row again', async () => (await rows()) === total);

    // The preview takes the focus, Tab and Shift+Tab stay inside it, Esc closes it.
    await driver.execute('document.querySelector("[data-testid=apply]").focus()');
    await driver.click('[data-testid="apply"]');
    await waitFor('the preview', () => driver.text('[data-testid="preview-summary"]'));
    const inside = () => driver.execute('return !!document.activeElement?.closest("[data-testid=preview-modal]")');
    assert.ok(await inside(), 'the focus moved into the preview');
    for (let i = 0; i < 40; i++) await driver.keys(WebDriver.TAB);
    assert.ok(await inside(), 'Tab keeps the focus in the preview');
    await driver.keys(WebDriver.SHIFT_TAB, WebDriver.SHIFT_TAB, WebDriver.SHIFT_TAB);
    assert.ok(await inside(), 'Shift+Tab keeps the focus in the preview');
    // The sticky footer sits at the bottom edge of the window: no diff text shows below it.
    await driver.execute('document.querySelector(".modal-backdrop").scrollTop = 0');
    await driver.painted();
    const gap = await driver.execute('return innerHeight - document.querySelector("[data-testid=preview-modal] footer").getBoundingClientRect().bottom');
    assert.ok(Math.abs(gap) < 1, `footer ends ${gap}px above the window's bottom`);
    await driver.keys(WebDriver.ESCAPE);
    await waitFor('the preview to close', async () => (await driver.count('[data-testid="preview-modal"]')) === 0);
    // And the focus went back to the Apply button.
    assert.equal(await active(), 'apply');
    await overview();
  });

  it('applies dev after showing the exact plan', async () => {
    await driver.click('[data-testid="env-card-dev"]');
    await waitFor('the resource table', () => driver.count('[data-testid="resources"] tbody tr'));
    await driver.click('[data-testid="apply"]');
    const summary = await waitFor('the preview', () => driver.text('[data-testid="preview-summary"]'));
    assert.match(summary, /5 to create, 0 to update, 0 to prune/);
    await shot('apply-preview');
    const result = await confirmAndWait();
    assert.match(result, /Synced and healthy/);
    assert.match(await driver.text('[data-testid="recorded"]'), /Recorded revision 1/);
    await shot('apply-result');
    await driver.click('[data-testid="done"]');
    await overview();
    assert.equal(await waitFor('dev in sync', async () => ((await changes('dev')) === '0' ? '0' : null)), '0');
    assert.equal(await driver.text('[data-testid="sync-state-dev"]'), 'Synced');
  });

  it('re-plans dev when a manifest changes on disk, and applies the change to the cluster', async () => {
    const started = Date.now();
    writeFileSync(config, readFileSync(config, 'utf8').replace('LOG_LEVEL: debug', 'LOG_LEVEL: trace'));
    await waitFor('dev to show one change', async () => (await changes('dev')) === '1', 30);
    console.log(`# the overview showed the edit ${Date.now() - started} ms after the write`);
    assert.equal(await driver.text('[data-testid="sync-state-dev"]'), 'Out of sync');

    await driver.click('[data-testid="env-card-dev"]');
    await openResource('ConfigMap-iris-server-config');
    await waitFor('the diff', () => driver.count('[data-testid="diff"] tr.add'));
    assert.match(await driver.text('[data-testid="diff"] tr.add'), /LOG_LEVEL: trace/);
    assert.match(await driver.text('[data-testid="diff"] tr.delete'), /LOG_LEVEL: debug/);
    await shot('env-detail-diff');

    await driver.click('[data-testid="apply"]');
    const summary = await waitFor('the preview', () => driver.text('[data-testid="preview-summary"]'));
    assert.match(summary, /0 to create, 1 to update/);
    assert.match(await driver.text('[data-testid="preview-modal"] tr.add'), /LOG_LEVEL: trace/);
    assert.match(await confirmAndWait(), /Synced/);
    await driver.click('[data-testid="done"]');

    // The in-memory cluster now holds the edited value.
    await openResource('ConfigMap-iris-server-config');
    assert.match(await liveText(), /LOG_LEVEL: trace/);
  });

  it('rolls dev back to the previous revision after a preview', async () => {
    await driver.click('[data-testid="tab-history"]');
    await waitFor('two revisions', async () => (await driver.count('[data-testid^="revision-"]')) === 2);
    await shot('history');
    await driver.click('[data-testid="rollback-1"]');
    await waitFor('the rollback preview', () => driver.text('[data-testid="preview-summary"]'));
    assert.match(await driver.text('[data-testid="preview-modal"] tr.add'), /LOG_LEVEL: debug/);
    assert.match(await driver.text('[data-testid="preview-modal"] tr.delete'), /LOG_LEVEL: trace/);
    await shot('rollback-preview');
    assert.match(await confirmAndWait(), /Synced/);
    await driver.click('[data-testid="done"]');
    await waitFor('three revisions', async () => (await driver.count('[data-testid^="revision-"]')) === 3);
    assert.match(await driver.text('[data-testid="revision-3"]'), /restores #1/);

    await driver.click('[data-testid="tab-resources"]');
    await openResource('ConfigMap-iris-server-config');
    assert.match(await liveText(), /LOG_LEVEL: debug/);
    // git still says "trace": dev is out of sync by that one change again.
    await overview();
    await waitFor('dev out of sync again', async () => (await changes('dev')) === '1');
  });

  it('previews a promotion with its gate results, then opens the pull request and links to it', async () => {
    // Promotion starts from a clean checkout: drop the earlier edit.
    execFileSync('git', ['checkout', '--', 'environments'], { cwd: repo });
    await driver.click('[data-testid="nav-promote"]');
    const status = await waitFor('the promotion preview', () => driver.text('[data-testid="promote-status"]'), 300);
    assert.match(status, /Preview: nothing committed yet/);
    const moves = await driver.text('[data-testid="promote-moves"]');
    assert.match(moves, /model\.version/);
    assert.match(moves, /1\.0\.0/);
    assert.match(moves, /1\.1\.0/);
    assert.equal(await driver.count('[data-testid="promote-gates"] tr'), 3);
    assert.match(await driver.text('[data-testid="promote-gates"]'), /modelValidation/);
    assert.ok((await driver.count('[data-testid="promote-metrics"] tbody tr')) > 0, 'model validation checks are shown');
    await shot('promote');
    assert.equal(forge.requests.length, 0, 'the preview asks nothing of GitHub');

    await driver.click('[data-testid="create-pr"]');
    const link = await waitFor('the pull request link', () => driver.text('[data-testid="pull-request"]'), 300);
    assert.match(link, /Pull request #1: https:\/\/github\.invalid\/acme\/gitops\/pull\/1/);
    await driver.execute('document.querySelector(arguments[0]).scrollIntoView({ block: "center" })', '[data-testid="pull-request"]');
    await shot('promote-pull-request');

    const created = forge.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/gitops/pulls');
    assert.equal(created.length, 1, 'exactly one pull request is opened');
    const [{ body, authorization }] = created;
    assert.equal(authorization, 'Bearer e2e-token');
    assert.equal(body.base, 'main');
    assert.match(body.body, /1\.1\.0/);
    // The branch the pull request names is on the remote, one commit past main.
    const branches = execFileSync('git', ['ls-remote', '--heads', `${repo}.git`], { encoding: 'utf8' });
    assert.ok(branches.includes(`refs/heads/${body.head}`), `${body.head} in\n${branches}`);
    const ahead = execFileSync('git', ['--git-dir', `${repo}.git`, 'rev-list', '--count', `main..${body.head}`], { encoding: 'utf8' });
    assert.equal(ahead.trim(), '1');
    // The user's checkout is left as it was.
    assert.equal(execFileSync('git', ['status', '--porcelain'], { cwd: repo, encoding: 'utf8' }), '');
    assert.equal(execFileSync('git', ['branch', '--show-current'], { cwd: repo, encoding: 'utf8' }).trim(), 'main');
  });

  it('steers a canary of staging: started by a sync, paused, resumed and promoted, each after a preview', async () => {
    const rollout = async (action, label) => {
      await driver.click(`[data-testid="rollout-${action}"]`);
      const after = await waitFor(`the ${action} preview`, () => driver.text('[data-testid="rollout-after"]'), 60);
      if (label) await shot(label);
      await driver.click('[data-testid="rollout-confirm"]');
      const result = await waitFor(`the ${action} result`, () => driver.text('[data-testid="rollout-result"]'), 60);
      await driver.click('[data-testid="rollout-done"]');
      return { after, result };
    };
    const step = () => driver.text('[data-testid="rollout-step"]');
    const applyStaging = async (expected) => {
      await waitFor('staging to have changes', () => driver.execute('return !document.querySelector(arguments[0])?.disabled', '[data-testid="apply"]'), 60);
      await driver.click('[data-testid="apply"]');
      await waitFor('the preview', () => driver.text('[data-testid="preview-summary"]'));
      assert.match(await confirmAndWait(), expected);
      const rollouts = await driver.text('[data-testid="result-rollout"]');
      await driver.click('[data-testid="done"]');
      return rollouts;
    };
    await overview();
    await driver.click('[data-testid="env-card-staging"]');
    await waitFor('the resource table', () => driver.count('[data-testid="resources"] tbody tr'));
    assert.match(await applyStaging(/Synced/), /recorded|stable/);
    // A new image in git: the next sync starts the canary instead of rolling stable.
    const manifest = join(repo, 'environments/staging/iris-server.yaml');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('iris-server:1.0.0', 'iris-server:1.1.0'));
    // No object changes (stable keeps its template); the sync starts the canary.
    assert.match(await applyStaging(/No object changed/), /step 1 of 3/);
    await driver.click('[data-testid="tab-rollouts"]');
    assert.match(await waitFor('step 1', async () => ((await step())?.includes('step 1 of 3') ? step() : null), 30), /25%/);
    assert.match(await driver.text('[data-testid="side-canary"]'), /iris-server:1\.1\.0/);
    assert.match(await driver.text('[data-testid="side-stable"]'), /iris-server:1\.0\.0/);
    await shot('rollout-canary');

    const pause = await rollout('pause', 'rollout-preview');
    assert.match(pause.after, /paused/);
    await waitFor('paused', async () => /paused/.test(await driver.text('[data-testid="rollout-phase"]')), 30);
    await rollout('resume');
    // Resumed, the step's own 10-minute pause runs on: still step 1, progressing.
    await waitFor('resumed', async () => (await driver.text('[data-testid="rollout-phase"]')) === 'progressing', 30);
    assert.match(await step(), /step 1 of 3/);
    const promote = await rollout('promote');
    assert.match(promote.result, /promoted/);
    await waitFor('completed', async () => /completed/.test(await driver.text('[data-testid="rollout-phase"]')), 30);
    assert.match(await driver.text('[data-testid="side-canary"]'), /none/);
    assert.match(await driver.text('[data-testid="side-stable"]'), /iris-server:1\.1\.0/);
    await shot('rollout-promoted');
    await driver.click('[data-testid="tab-history"]');
    await waitFor('the rollout operations in history', async () => /rollout promote iris-server/.test(await driver.text('[data-testid="history"]')), 30);
  });

  it('sets an image in git from a workload, after previewing the one-line edit', async () => {
    const status = () => execFileSync('git', ['status', '--porcelain'], { cwd: repo, encoding: 'utf8' });
    const before = status();
    const main = () => execFileSync('git', ['--git-dir', `${repo}.git`, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
    const mainBefore = main();
    await overview();
    await driver.click('[data-testid="env-card-dev"]');
    await openResource('Deployment.apps-iris-server');
    await waitFor('the edit form', () => driver.count('[data-testid="edit-image"]'));
    await driver.execute(
      'const input = document.querySelector(arguments[0]); input.value = arguments[1]; input.dispatchEvent(new Event("input", { bubbles: true }));',
      '[data-testid="edit-image"]',
      'ghcr.io/acme-ml/iris-server:1.2.0',
    );
    await driver.click('[data-testid="preview-set-image"]');
    assert.match(await waitFor('the edit preview', () => driver.text('[data-testid="edit-status"]'), 60), /nothing committed yet/);
    assert.match(await driver.text('[data-testid="workload-edit-modal"] tr.add'), /iris-server:1\.2\.0/);
    assert.match(await driver.text('[data-testid="workload-edit-modal"] tr.delete'), /iris-server:1\.1\.0/);
    assert.equal(main(), mainBefore, 'a preview pushes nothing');
    await shot('set-image-preview');
    await driver.click('[data-testid="edit-confirm"]');
    assert.match(await waitFor('the push', async () => ((await driver.text('[data-testid="edit-status"]'))?.includes('pushed') ? driver.text('[data-testid="edit-status"]') : null), 60), /pushed/);
    await driver.click('[data-testid="edit-done"]');
    const pushed = execFileSync('git', ['--git-dir', `${repo}.git`, 'show', 'main:environments/dev/iris-server.yaml'], { encoding: 'utf8' });
    assert.match(pushed, /iris-server:1\.2\.0/);
    assert.equal(status(), before, 'the working tree is left as it was');
  });

  it('cancels a sync that waits for a model server which never becomes ready', async () => {
    const manifest = join(repo, 'environments/dev/iris-server.yaml');
    const original = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, original.replace(/ghcr\.io\/acme-ml\/iris-server:[0-9.]+/, LOADING_IMAGE));
    try {
      await overview();
      await driver.click('[data-testid="env-card-dev"]');
      await waitFor('dev to have changes', () => driver.execute('return !document.querySelector(arguments[0])?.disabled', '[data-testid="apply"]'), 60);
      await driver.click('[data-testid="apply"]');
      await waitFor('the preview', () => driver.text('[data-testid="preview-summary"]'));
      await driver.click('[data-testid="confirm"]');
      await waitFor('the sync waiting for health', async () => /progressing/.test((await driver.text('[data-testid="preview-modal"]')) ?? ''), 60);
      await shot('sync-cancel');
      // Esc does not close the preview while the sync runs.
      await driver.keys(WebDriver.ESCAPE);
      await driver.painted();
      assert.equal(await driver.count('[data-testid="cancel-running"]'), 1, 'the running preview stays open on Esc');
      await driver.click('[data-testid="cancel-running"]');
      const result = await waitFor('the result', () => driver.text('[data-testid="result"]'), 60);
      assert.match(result, /Interrupted/);
      await driver.click('[data-testid="done"]');
      await driver.click('[data-testid="tab-history"]');
      await waitFor('an interrupted revision', async () => /interrupted/.test((await driver.text('[data-testid="history"]')) ?? ''), 30);
    } finally {
      writeFileSync(manifest, original);
    }
  });

  it('keeps the webdriver log quiet about errors', () => {
    assert.doesNotMatch(app.log(), /panicked/);
  });
});
