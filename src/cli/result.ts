import type { Runtime } from './runtime.js';

/** What a command hands back to be printed: `data` for --json, `text` (or raw bytes) for people and pipes. */
export interface CommandResult {
  data: Record<string, unknown>;
  text?: string;
  bytes?: Buffer;
}

export type Handler = (rt: Runtime, args: string[], opts: Record<string, unknown>) => Promise<CommandResult>;
