import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isatty } from 'node:tty';
import { configError } from './errors.js';
import { quote } from './quote.js';
import { importOnDemand } from './esm-import.js';
import { checkLabel, parsePkcs11Uri, type TokenSelector } from './token/uri.js';

// Resolution order: flags > environment (KMSCTL_*) > KMSCTL_HOME/config.yaml > defaults.

export interface GlobalFlags {
  home?: string;
  module?: string;
  token?: string;
  tokenSerial?: string;
  pinFile?: string;
  actor?: string;
  input?: boolean; // commander's --no-input gives input: false
}

export interface Config {
  home: string;
  /** Explicit PKCS#11 library; undefined means the embedded SoftHSM token under home/softhsm. */
  modulePath?: string;
  token?: TokenSelector;
  pinFile?: string;
  actorName?: string;
  /** Prompts allowed: a TTY on stdin and stderr, no --no-input, no CI. */
  interactive: boolean;
}

const FILE_KEYS = ['module', 'token', 'token-serial', 'pin-file', 'actor'] as const;
type FileConfig = Partial<Record<(typeof FILE_KEYS)[number], string>>;

export function defaultHome(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.local', 'share'), 'kmsctl');
}

async function readConfigFile(home: string): Promise<FileConfig> {
  const path = join(home, 'config.yaml');
  if (!existsSync(path)) return {};
  const { parse } = await importOnDemand<typeof import('yaml')>('yaml');
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'), { version: '1.2', uniqueKeys: true });
  } catch (e) {
    throw configError(`${path}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw configError(`${path}: expected a mapping of settings`);
  const out: FileConfig = {};
  for (const [k, v] of Object.entries(doc)) {
    if (!(FILE_KEYS as readonly string[]).includes(k)) throw configError(`${path}: unknown setting ${quote(k)} (known: ${FILE_KEYS.join(', ')})`);
    if (typeof v !== 'string') throw configError(`${path}: setting "${k}" must be a string`);
    out[k as keyof FileConfig] = v;
  }
  return out;
}

function pick(...vals: Array<string | undefined>): string | undefined {
  return vals.find((v) => v !== undefined && v !== '');
}

function selectorFrom(token?: string, serial?: string): TokenSelector | undefined {
  if (token === undefined && serial === undefined) return undefined;
  const sel: TokenSelector = token?.startsWith('pkcs11:') ? parsePkcs11Uri(token) : token !== undefined ? { label: checkLabel(token) } : {};
  if (serial !== undefined) sel.serial = serial.trim();
  return sel;
}

export async function resolveConfig(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const home = resolve(pick(flags.home, env.KMSCTL_HOME) ?? defaultHome(env));
  const file = await readConfigFile(home);
  const modulePath = pick(flags.module, env.KMSCTL_MODULE, file.module);
  // A token named on the command line replaces the environment's and the file's choice as a whole.
  const tokenFromFlags = selectorFrom(flags.token, flags.tokenSerial);
  const tokenFromEnv = selectorFrom(pick(env.KMSCTL_TOKEN), pick(env.KMSCTL_TOKEN_SERIAL));
  const tokenFromFile = selectorFrom(file.token, file['token-serial']);
  const ciSet = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  const mayPrompt = flags.input !== false && !ciSet;
  let ttys: boolean | undefined;
  return {
    home,
    modulePath: modulePath ? resolve(modulePath) : undefined,
    token: tokenFromFlags ?? tokenFromEnv ?? tokenFromFile,
    pinFile: pick(flags.pinFile, env.KMSCTL_PIN_FILE, file['pin-file']),
    actorName: pick(flags.actor, env.KMSCTL_ACTOR, file.actor),
    // Asked only when a prompt could be needed: node:tty loads the net stack, which a command whose
    // PIN comes from a file and whose output goes to --out never needs.
    get interactive() {
      return mayPrompt && (ttys ??= isatty(0) && isatty(2));
    },
  };
}
