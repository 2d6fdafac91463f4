import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { Command, CommanderError, Option } from 'commander';
import { KmsError, InternalError, EXIT } from '../errors.js';
import { shorten } from '../quote.js';
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from './command-table.js';
import type { Handler } from './result.js';
import { Runtime, type RuntimeFlags } from './runtime.js';
import { renderError, renderResult } from './render.js';
import { HANDLERS } from './handlers.js';

const VERSION = (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;

function collect(value: string, prev: string[] = []): string[] {
  return [...prev, value];
}

function toOption(o: OptionSpec): Option {
  const opt = new Option(o.flags, o.description);
  if (o.choices) opt.choices(o.choices);
  if (o.repeatable) opt.argParser(collect).default(undefined);
  return opt;
}

/** Handlers are imported when their command runs, so a `verify` never loads the code of `create`. */
export function handlerName(spec: CommandSpec): string {
  return spec.parent ? `${spec.parent}-${spec.name}` : spec.name;
}

async function loadHandler(spec: CommandSpec): Promise<Handler> {
  const load = HANDLERS[handlerName(spec)];
  if (!load) throw new InternalError(`no handler for command ${handlerName(spec)}`);
  return (await load()).run;
}

/**
 * The options of a command and its ancestors, the nearest command's winning unless its value is only a
 * default: commander's optsWithGlobals lets kmsctl's own defaults (--no-input, --no-color give
 * input/color true) override a `wrap KEY --no-input` given after the subcommand.
 */
function mergedOptions(cmd: Command): Record<string, unknown> {
  const chain: Command[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) chain.unshift(c);
  const out: Record<string, unknown> = {};
  for (const c of chain) {
    for (const [k, v] of Object.entries(c.opts())) {
      if (k in out && c.getOptionValueSource(k) === 'default') continue;
      out[k] = v;
    }
  }
  return out;
}

/** The command word of argv (the first word that is not an option or a global option's value). */
export function commandWord(argv: string[]): string | undefined {
  const valued = new Set(GLOBAL_OPTIONS.filter((o) => o.flags.includes('<')).flatMap((o) => o.flags.split(/[\s,]+/).filter((f) => f.startsWith('-'))));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return undefined;
    if (a.startsWith('-')) {
      if (!a.includes('=') && valued.has(a)) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

/**
 * The commander tree. With `only`, just that command (and its subcommands) is declared: building all
 * thirty-odd commands with their options costs every short command a few milliseconds. Help, an
 * unknown command and no command at all get the whole tree.
 */
export function buildProgram(onRun: (spec: CommandSpec, args: string[], opts: Record<string, unknown>) => Promise<void>, only?: string): Command {
  const program = new Command('kmsctl');
  program
    .description('Key management on a PKCS#11 token: create, rotate, wrap, unwrap, sign, audit.')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    // Program options end at the subcommand, so a subcommand's --version N is not kmsctl's -V/--version;
    // the global options are declared on every command too (hidden in its help), so they work anywhere.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  for (const o of GLOBAL_OPTIONS) program.addOption(toOption(o));
  const byName = new Map<string, Command>();
  const wanted = only !== undefined && COMMANDS.some((c) => !c.parent && c.name === only) ? only : undefined;
  for (const spec of COMMANDS) {
    if (wanted !== undefined && (spec.parent ?? spec.name) !== wanted) continue;
    const parent = spec.parent ? byName.get(spec.parent) : program;
    if (!parent) throw new Error(`command table: ${spec.name} names unknown parent ${spec.parent}`);
    const cmd = parent.command(spec.args ? `${spec.name} ${spec.args}` : spec.name, { hidden: spec.hidden === true }).description(spec.summary);
    if (!spec.parent) byName.set(spec.name, cmd);
    for (const o of spec.options ?? []) cmd.addOption(toOption(o));
    // A command may give a global flag a meaning of its own (audit --actor filters by actor).
    for (const o of GLOBAL_OPTIONS) if (!spec.options?.some((s) => s.flags === o.flags)) cmd.addOption(toOption(o).hideHelp());
    cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}\n\nGlobal options (--home, --module, --token, --pin-file, --json, --no-input ...): kmsctl --help\n`);
    cmd.exitOverride().configureOutput({ writeErr: () => undefined, outputError: () => undefined });
    // A command with subcommands of its own (audit, policy): a word after it that is none of them is an
    // unknown command, with the nearest suggested, rather than "too many arguments".
    const hasSubcommands = !spec.parent && COMMANDS.some((c) => c.parent === spec.name);
    if (hasSubcommands) cmd.allowExcessArguments(true);
    cmd.action(async function (this: Command) {
      if (hasSubcommands && this.args.length > 0) (this as unknown as { unknownCommand(): never }).unknownCommand();
      await onRun(spec, this.args, mergedOptions(this));
    });
  }
  return program;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** Commander suggests only visible options; the global ones are hidden on subcommands, so suggest those here. */
function suggestGlobal(message: string): string {
  const bad = /unknown option '(--[^'=]+)/.exec(message)?.[1];
  if (!bad || /Did you mean/.test(message)) return message;
  const best = GLOBAL_OPTIONS.map((o) => /--[a-z-]+/.exec(o.flags)![0])
    .map((flag) => ({ flag, d: distance(bad, flag) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(bad.length / 3)) ? `${message} (Did you mean ${best.flag}?)` : message;
}

/** `kmsctl audit verify --help` for an error in `kmsctl audit verify ...`: the help of the command that was typed. */
function helpFor(argv: string[]): string {
  const word = commandWord(argv);
  if (!word || !COMMANDS.some((c) => !c.parent && c.name === word)) return 'kmsctl --help';
  const after = argv.slice(argv.indexOf(word) + 1).find((a) => !a.startsWith('-'));
  const sub = after !== undefined && COMMANDS.some((c) => c.parent === word && c.name === after) ? ` ${after}` : '';
  return `kmsctl ${word}${sub} --help`;
}

function commanderToKms(e: CommanderError, argv: string[]): KmsError {
  // Commander quotes the offending argument as given: a long one is shortened, as kmsctl's own messages do.
  const message = suggestGlobal(e.message.replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ')).replace(/'([^']{61,})'/g, (_m, v: string) => `'${shorten(v)}'`);
  return new KmsError('usage', message, { reason: e.code.replace(/^commander\./, ''), hint: `see ${helpFor(argv)}` });
}

/**
 * `kmsctl help audit verify` is `kmsctl audit verify --help` (commander's help command knows one level
 * only); `kmsctl help nope` is an unknown command, with the nearest suggested.
 */
function helpToFlag(argv: string[]): string[] {
  if (argv[0] !== 'help' || argv.length < 2 || argv[1].startsWith('-')) return argv;
  const known = COMMANDS.some((c) => !c.parent && c.name === argv[1]);
  return known ? [...argv.slice(1), '--help'] : argv.slice(1);
}

export async function main(argv: string[]): Promise<number> {
  const jsonWanted = argv.includes('--json');
  let rt: Runtime | undefined;
  let exitCode = 0;
  let flags: RuntimeFlags = { json: jsonWanted, color: !argv.includes('--no-color') };
  const onSigint = () => {
    rt?.close();
    process.stderr.write('\nkmsctl: cancelled\n');
    process.exit(EXIT.cancelled);
  };
  process.on('SIGINT', onSigint);
  try {
    const program = buildProgram(async (spec, args, opts) => {
      flags = opts as RuntimeFlags;
      rt = await Runtime.create(flags);
      rt.command = spec.parent ? `${spec.parent} ${spec.name}` : spec.name;
      if (spec.args === '<key>' || spec.args === '[key]' || spec.args === '<alias>') rt.keyRef = args[0] as string | undefined;
      const handler = await loadHandler(spec);
      const result = await handler(rt, args, opts);
      renderResult(result, flags);
      exitCode = result.exitCode ?? 0;
    }, commandWord(argv));
    await program.parseAsync(helpToFlag(argv), { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander shows help "as an error" when no command was given: for kmsctl that is a usage error.
      if (e.code === 'commander.help' && e.exitCode !== 0) {
        const names = COMMANDS.filter((c) => !c.parent && !c.hidden).map((c) => c.name).join(', ');
        return renderError(new KmsError('usage', `a command is needed: kmsctl COMMAND, one of ${names}`, { reason: 'missingCommand', hint: 'see kmsctl --help' }), flags);
      }
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return renderError(commanderToKms(e, argv), flags);
    }
    return renderError(e instanceof KmsError || e instanceof InternalError ? e : new InternalError(e instanceof Error ? e.message : String(e), e), flags);
  } finally {
    rt?.close();
    process.off('SIGINT', onSigint);
  }
}
