import { readFileSync, statSync } from 'node:fs';
import { usage, configError } from '../errors.js';

export type PinPrompt = (message: string) => Promise<string>;

export interface PinSources {
  env: NodeJS.ProcessEnv;
  pinFile?: string;
  /** The embedded token's own PIN file content, when the embedded default is in use. */
  embeddedPin?: string;
  /** Present only when prompting is allowed (a TTY, no --no-input, no CI). */
  prompt?: PinPrompt;
}

/** KMSCTL_PIN, then --pin-file (first line; a FIFO is read once), then the embedded PIN, then a hidden prompt. */
export async function resolvePin(src: PinSources): Promise<string> {
  const fromEnv = src.env.KMSCTL_PIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (src.pinFile) {
    let text: string;
    try {
      statSync(src.pinFile);
      text = readFileSync(src.pinFile, 'utf8');
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'error';
      throw configError(`cannot read the PIN file ${src.pinFile} (${code})`);
    }
    const pin = text.split(/\r?\n/)[0];
    if (pin === '') throw configError(`the PIN file ${src.pinFile} is empty on its first line`);
    return pin;
  }
  if (src.embeddedPin) return src.embeddedPin;
  if (src.prompt) return src.prompt('Token user PIN:');
  throw usage('a token PIN is needed: set KMSCTL_PIN or pass --pin-file PATH (no prompt here: not a TTY, --no-input, --json or CI is set)', {
    reason: 'pin-needed',
  });
}
