import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The installed kmsctl's own directory (package.json, bin/, policies/): found upwards from this module,
 * which works from the compiled tree (dist/...), from the single-file bundle (dist/kmsctl.cjs) and from src/.
 */
export function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('kmsctl cannot find its own package.json');
    dir = up;
  }
  root = dir;
  return dir;
}
