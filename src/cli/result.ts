import type { Runtime } from './runtime.js';

/** What a command hands back to be printed: `data` for --json, `text` (or raw bytes) for people and pipes. */
export interface CommandResult {
  data: Record<string, unknown>;
  text?: string;
  bytes?: Buffer;
  /** Batch mode wrote its JSON Lines itself: print nothing more. */
  batch?: boolean;
  /** Exit code for a result that is not an error (a batch where some lines failed). */
  exitCode?: number;
}

export type Handler = (rt: Runtime, args: string[], opts: Record<string, unknown>) => Promise<CommandResult>;
