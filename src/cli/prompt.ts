import { importOnDemand } from '../esm-import.js';
import { cancelled } from '../errors.js';

// Prompts load @inquirer/prompts only when a prompt is really shown: it is not on any hot path.

function isCancel(e: unknown): boolean {
  return e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError');
}

export async function promptSecret(message: string): Promise<string> {
  const { password } = await importOnDemand<typeof import('@inquirer/prompts')>('@inquirer/prompts');
  try {
    return await password({ message, mask: false }, { output: process.stderr });
  } catch (e) {
    if (isCancel(e)) throw cancelled('cancelled at the PIN prompt');
    throw e;
  }
}

export async function promptText(message: string): Promise<string> {
  const { input } = await importOnDemand<typeof import('@inquirer/prompts')>('@inquirer/prompts');
  try {
    return await input({ message }, { output: process.stderr });
  } catch (e) {
    if (isCancel(e)) throw cancelled('cancelled at the prompt');
    throw e;
  }
}
