// Starting the built desktop app under tauri-driver for the end-to-end tests, shared by the test
// files (each launches its own app: the dark-mode one with a dark GTK theme).

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebDriver, waitFor } from './webdriver.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const top = resolve(here, '../..');
const app = process.env.COXSWAIN_APP ?? join(process.env.CARGO_TARGET_DIR ?? join(top, 'target'), 'debug/coxswain-app');
const shots = process.env.COXSWAIN_SCREENSHOTS ?? join(top, 'docs/screenshots');

/** A free loopback port. */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const CANARY = `rollouts:
  iris-server:
    canary:
      steps:
        - {weight: 25, pause: 10m}
        - {weight: 50, pause: manual}
        - {weight: 100}
`;

/** The example repo copied into a fresh git repository with one commit. */
export function exampleRepo(dir) {
  for (const folder of ['environments', 'pipelines', 'models']) cpSync(join(top, folder), join(dir, folder), { recursive: true });
  // staging rolls iris-server out as a canary (README, "Rollouts").
  writeFileSync(join(dir, 'environments/staging/env.yaml'), readFileSync(join(dir, 'environments/staging/env.yaml'), 'utf8') + CANARY);
  const git = (...args) =>
    execFileSync('git', ['-c', 'user.name=E2E', '-c', 'user.email=e2e@example.invalid', '-c', 'init.defaultBranch=main', ...args], {
      cwd: dir,
      stdio: 'ignore',
    });
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'example repo');
  // The remote promotions push to: a bare repository beside it.
  execFileSync('git', ['init', '-q', '--bare', `${dir}.git`]);
  git('remote', 'add', 'origin', `file://${dir}.git`);
  git('push', '-q', '-u', 'origin', 'main');
  return dir;
}

/**
 * Starts tauri-driver and a WebDriver session on the app, with `env` added to the environment
 * (the app inherits it through WebKitWebDriver). Returns the driver, the driver's log so far and
 * a stop function.
 */
export async function startApp(env) {
  const port = await freePort();
  const nativePort = await freePort();
  let log = '';
  const tauriDriver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
    env: {
      ...process.env,
      COXSWAIN_CLUSTER: 'memory',
      // WebKitWebDriver's screenshots never return from a webview without GPU compositing
      // (the app's default) under Xvfb; everything else behaves the same either way.
      COXSWAIN_APP_GPU: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  tauriDriver.stdout.on('data', (d) => (log += d));
  tauriDriver.stderr.on('data', (d) => (log += d));
  const driver = new WebDriver(`http://127.0.0.1:${port}`);
  try {
    await waitFor('tauri-driver', () => fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok), 30);
    await driver.start({ 'tauri:options': { application: app } });
  } catch (error) {
    tauriDriver.kill();
    throw new Error(`${error.message}\n${log}`);
  }
  return {
    driver,
    log: () => log,
    async stop() {
      await driver.quit();
      tauriDriver.kill();
      // The app inherits tauri-driver's output pipes: if it is slow to exit after the quit (seen
      // once on a loaded machine), those pipes would keep this test process alive. It still
      // ends with the X display that xvfb-run closes.
      tauriDriver.stdout.destroy();
      tauriDriver.stderr.destroy();
    },
  };
}

/** Writes a screenshot of the window to the screenshots folder as `name`.png. */
export async function saveShot(driver, name) {
  mkdirSync(shots, { recursive: true });
  writeFileSync(join(shots, `${name}.png`), await driver.screenshot());
}
