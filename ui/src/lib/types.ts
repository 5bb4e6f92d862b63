// What the Rust commands send is declared in ./generated/bindings.ts, generated from the Rust
// types (src-tauri/src/bindings.rs; refresh with the command in its header). This file adds the
// shapes only the UI has.
import type { SyncEvent } from './generated/bindings';

export type * from './generated/bindings';

/** A `SyncEvent` from the core, tagged with its env (src-tauri/src/progress.rs). */
export type ProgressEvent = { env: string } & SyncEvent;
