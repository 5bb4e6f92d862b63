// The app's store instances, over the Tauri API.

import { tauriApi } from './api';
import {
  createEnvStore,
  createHistoryStore,
  createOperationStore,
  createPromoteStore,
  createRemoteStore,
  createRepoStore,
  createRolloutOperationStore,
} from './stores';

export const api = tauriApi;
export const repo = createRepoStore(api);
export const envs = createEnvStore(api);
export const history = createHistoryStore(api);
export const remote = createRemoteStore(api);
export const promotion = createPromoteStore(api);
export const operation = createOperationStore(api, (env) => {
  // The watchers push the new plan too; fetching here makes the result visible at once.
  void envs.loadDetail(env);
  void history.load(env);
});
export const rolloutOperation = createRolloutOperationStore(api, (env) => {
  void envs.loadDetail(env);
  void history.load(env);
});
