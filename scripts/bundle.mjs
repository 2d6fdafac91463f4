// Bundles the CLI into one CommonJS file, dist/kmsctl.cjs, that bin/kmsctl loads: one file to read
// and compile instead of a tree of ES modules, which is most of a short command's start-up.
// Native addons and the heavy, rarely used packages (policy YAML and schema, prompts) stay outside
// and load from node_modules only when a command needs them.
import { build } from 'esbuild';

// Node built-ins that a short command may never use are loaded on first use, not at start-up:
// commander requires child_process at load time for executable subcommands, which kmsctl never uses
// (that one require pulls in net, dgram and the stream stack); crypto costs several milliseconds and
// list or show do not need it; readline serves batch mode only; tty (which loads the net stack) is
// asked only before a prompt or for colour; worker_threads serves a large audit verify. Every import
// of these in the bundle goes through a stand-in that loads the real module when one of its members
// is first read.
const LAZY_BUILTINS = ['child_process', 'crypto', 'readline', 'tty', 'worker_threads'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter }, (args) => {
      const name = args.path.replace(/^node:/, '');
      return args.namespace === 'lazy-builtin' ? { path: `node:${name}`, external: true } : { path: name, namespace: 'lazy-builtin' };
    });
    // esbuild's interop copies a CommonJS module's keys when it is imported, so the stand-in lists the
    // built-in's keys (taken here, from the Node that builds and runs the bundle) without loading it.
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async (args) => {
      const keys = Object.keys(await import(`node:${args.path}`)).filter((k) => k !== 'default');
      return {
        contents: [
          `let real; const load = () => (real ??= require('node:${args.path}'));`,
          `const keys = ${JSON.stringify(keys)};`,
          'module.exports = new Proxy({}, {',
          '  get: (_, k) => load()[k],',
          '  has: (_, k) => k in load(),',
          '  ownKeys: () => keys,',
          '  getOwnPropertyDescriptor: (_, k) => (keys.includes(k) ? { get: () => load()[k], enumerable: true, configurable: true } : undefined),',
          '});',
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

// Bundled packages whose module code does work when it runs (chalk's colour detection asks tty about
// stdout and stderr; cli-table3 builds its string-width tables) are evaluated on first use too: the
// stand-in require()s the real module, which esbuild then wraps to run lazily, so a command that
// prints no colour or no table never runs it. A CommonJS package that exports a class (cli-table3)
// gets a constructor that makes an instance of the real one.
const LAZY_PACKAGES = ['chalk', 'cli-table3'];
const lazyPackages = {
  name: 'lazy-packages',
  setup(b) {
    const filter = new RegExp(`^(${LAZY_PACKAGES.join('|')})$`);
    b.onResolve({ filter }, (args) => (args.namespace === 'lazy-package' ? undefined : { path: args.path, namespace: 'lazy-package' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, async (args) => {
      const mod = await import(args.path);
      const keys = Object.keys(mod).filter((k) => k !== 'default');
      const cjsClass = typeof mod.default === 'function' && keys.length === 0;
      return {
        contents: [
          `let real; const load = () => (real ??= require(${JSON.stringify(args.path)}));`,
          ...(cjsClass
            ? ['module.exports = function (...a) { return new (load())(...a); };']
            : keys.map((k) => `Object.defineProperty(exports, ${JSON.stringify(k)}, { get: () => load()[${JSON.stringify(k)}], enumerable: true });`)),
        ].join('\n'),
        loader: 'js',
        resolveDir: process.cwd(),
      };
    });
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
  plugins: [lazyBuiltins, lazyPackages],
  // Modules locate the installation through import.meta.url; in one CommonJS file that is the file itself.
  define: { 'import.meta.url': '__kmsctl_bundle_url' },
  banner: { js: "const __kmsctl_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  logLevel: 'warning',
});

// The second thread of audit verify on a large trail (src/audit/verify-parallel.ts) runs this file.
await build({
  entryPoints: ['src/audit/scan-worker.ts'],
  outfile: 'dist/audit-scan-worker.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['*.node'],
  define: { 'import.meta.url': '__kmsctl_bundle_url' },
  banner: { js: "const __kmsctl_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  logLevel: 'warning',
});

// bin/kmsctl keys its V8 code cache by this hash, so a rebuilt bundle never meets a stale cache.
const { createHash } = await import('node:crypto');
const { readFileSync, readdirSync, rmSync, writeFileSync } = await import('node:fs');
const stamp = createHash('sha256').update(readFileSync('dist/kmsctl.cjs')).digest('hex').slice(0, 16);
writeFileSync('dist/kmsctl.cjs.hash', `${stamp}\n`);
// Caches of earlier builds can never be used again.
for (const f of readdirSync('dist')) if (f.startsWith('.kmsctl-') && f.endsWith('.v8cache') && !f.startsWith(`.kmsctl-${stamp}-`)) rmSync(`dist/${f}`, { force: true });
