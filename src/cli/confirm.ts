import { usage, cancelled } from '../errors.js';
import type { Runtime } from './runtime.js';
import { promptText } from './prompt.js';

/**
 * Destructive commands: at a TTY the operator types the expected word (usually the alias);
 * elsewhere --yes is required, and its absence is exit 64 naming the flag.
 */
export async function confirmDestructive(rt: Runtime, yes: unknown, what: string, expected: string, detail?: string): Promise<void> {
  if (yes === true) return;
  if (!rt.interactive) {
    throw usage(`${what.replace(/[.:]$/, '')}: this needs confirmation: pass --yes (no prompt here: not a TTY, --no-input, --json or CI is set)`, { reason: 'confirmation-needed' });
  }
  process.stderr.write(`${what}\n${detail ? `${detail}\n` : ''}`);
  const typed = await promptText(`Type ${expected} to confirm:`);
  if (typed.trim() !== expected) throw cancelled(`confirmation did not match "${expected}": nothing was changed`);
}
