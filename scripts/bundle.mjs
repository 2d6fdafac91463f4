// Bundles the CLI into one CommonJS file, dist/kmsctl.cjs, that bin/kmsctl loads: one file to read
// and compile instead of a tree of ES modules, which is most of a short command's start-up.
// Native addons and the heavy, rarely used packages (policy YAML and schema, prompts) stay outside
// and load from node_modules only when a command needs them.
import { build } from 'esbuild';

// commander requires child_process at load time for executable subcommands, which kmsctl never uses;
// that one require pulls in net, dgram and the stream stack. Every child_process import in the bundle
// goes through a stand-in that loads the real module on first use.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (args.namespace === 'lazy-cp' ? { path: 'node:child_process', external: true } : { path: 'child_process', namespace: 'lazy-cp' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-cp' }, () => ({
      contents: [
        "let real; const load = () => (real ??= require('node:child_process'));",
        'module.exports = new Proxy({}, {',
        '  get: (_, k) => load()[k],',
        '  has: (_, k) => k in load(),',
        '  ownKeys: () => Reflect.ownKeys(load()),',
        '  getOwnPropertyDescriptor: (_, k) => (k in load() ? { value: load()[k], writable: true, enumerable: true, configurable: true } : undefined),',
        '});',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: ['src/cli/entry.ts'],
  outfile: 'dist/kmsctl.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // better-sqlite3's JavaScript is bundled (its addon is loaded by path, see src/ledger/db.ts).
  external: ['pkcs11js', 'yaml', 'ajv', 'ajv/*', '@inquirer/prompts', '*.node'],
  plugins: [lazyChildProcess],
  // Modules locate the installation through import.meta.url; in one CommonJS file that is the file itself.
  define: { 'import.meta.url': '__kmsctl_bundle_url' },
  banner: { js: "const __kmsctl_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  logLevel: 'warning',
});

// bin/kmsctl keys its V8 code cache by this hash, so a rebuilt bundle never meets a stale cache.
const { createHash } = await import('node:crypto');
const { readFileSync, writeFileSync } = await import('node:fs');
writeFileSync('dist/kmsctl.cjs.hash', `${createHash('sha256').update(readFileSync('dist/kmsctl.cjs')).digest('hex').slice(0, 16)}\n`);
