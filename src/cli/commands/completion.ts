import type { Handler } from '../result.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import { usage } from '../../errors.js';
import { quote } from '../../quote.js';

export const run: Handler = async (_rt, [shell]) => {
  if (!(SHELLS as readonly string[]).includes(shell)) throw usage(`unknown shell ${quote(shell)}: choose ${SHELLS.join(', ')}`);
  const script = completionScript(shell as Shell);
  return { data: { shell, script }, text: script };
};
