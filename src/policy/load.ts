// Reads policy files into a PolicySet, or into every error they hold, each with file:line:column and
// what was expected. YAML is read as 1.2 with unique keys; the places where YAML 1.1 would read the
// same text differently are errors (traps.ts); the structure is checked against policies/schema.json
// with ajv; then what a schema cannot say: duration ranges, names declared twice across files, roles
// that no file declares. Every check runs on every file that parses, also on one that already failed
// another check, so one run lists every error (a file whose schema errors hid its duration ranges
// and duplicates made people fix the same file twice). Values are echoed back shortened (quote.ts).

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document, type Node as YamlNode, type Pair } from 'yaml';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { badData, notFound, usage, KmsError } from '../errors.js';
import { DELETION_WINDOW, ROTATION_PERIOD, parseDuration } from '../duration.js';
import { quote, shorten } from '../quote.js';
import type { Spec } from '../keys/specs.js';
import { yaml11Trap } from './traps.js';
import { projectRoot } from '../paths.js';
import { APPROVABLE, type ApprovableOp, type KeyDecl, type Operation, type PolicySet, type RoleDecl, type RuleDecl, type SourcePos } from './model.js';

export interface PolicyError extends SourcePos {
  message: string;
}

export interface PolicyText {
  file: string;
  text: string;
}

export const SCHEMA_PATH = join(projectRoot(), 'policies', 'schema.json');

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object;
    compiled = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, verbose: true }).compile(schema);
  }
  return compiled;
}

type PathSeg = string | number;

/** One parsed file: its document, a line counter, and a way from a data path to a place in the text. */
class ParsedFile {
  constructor(
    readonly file: string,
    readonly doc: Document,
    private readonly lc: LineCounter,
  ) {}

  at(offset: number): SourcePos {
    const p = this.lc.linePos(offset);
    return { file: this.file, line: p.line, column: p.col };
  }

  /** The node at a data path and the pair that holds it (for pointing at a key rather than a value). */
  lookup(path: PathSeg[]): { node: YamlNode | null; pair: Pair | null; parent: YamlNode | null } {
    let node: YamlNode | null = this.doc.contents as YamlNode | null;
    let pair: Pair | null = null;
    let parent: YamlNode | null = null;
    for (const seg of path) {
      parent = node;
      if (isSeq(node)) {
        node = (node.items[Number(seg)] as YamlNode | undefined) ?? null;
        pair = null;
      } else if (isMap(node)) {
        const p = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg)) as Pair | undefined;
        pair = p ?? null;
        node = (p?.value as YamlNode | null | undefined) ?? null;
      } else {
        return { node: null, pair: null, parent };
      }
    }
    return { node, pair, parent };
  }

  /** Where a data path is in the text: its value, else its key, else its parent. */
  pos(path: PathSeg[], which: 'value' | 'key' = 'value'): SourcePos {
    const { node, pair, parent } = this.lookup(path);
    const keyNode = pair && isScalar(pair.key) ? pair.key : null;
    const first = which === 'key' ? keyNode ?? node : node?.range ? node : keyNode;
    const range = first?.range ?? parent?.range ?? (this.doc.contents as YamlNode | null)?.range;
    return this.at(range ? range[0] : 0);
  }

  keyPos(path: PathSeg[], key: string): SourcePos {
    return this.pos([...path, key], 'key');
  }
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return quote(v);
  return `${typeof v} ${String(v)}`;
}

const TYPE_NAMES: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', integer: 'a whole number', boolean: 'true or false', number: 'a number' };

function pathOf(instancePath: string): PathSeg[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** How an error names the place: "rotation-period", "keys entry 2", "the file". */
function fieldName(path: PathSeg[]): string {
  const last = path[path.length - 1];
  if (last === undefined) return 'the file';
  if (typeof last === 'number') return `${String(path[path.length - 2] ?? 'list')} entry ${last + 1}`;
  return last;
}

/** An ajv error as a sentence that says what was expected, at the right place in the text. */
function schemaError(pf: ParsedFile, e: ErrorObject): PolicyError | null {
  const path = pathOf(e.instancePath);
  const field = fieldName(path);
  const parent = (e.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown>; pattern?: string };
  switch (e.keyword) {
    case 'additionalProperties': {
      const prop = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys(parent.properties ?? {});
      return { ...pf.keyPos(path, prop), message: `unknown field ${quote(prop)}${path.length ? ` in ${field}` : ''} (expected one of: ${known.join(', ')})` };
    }
    case 'required': {
      if (e.schemaPath.includes('/anyOf/')) return null; // reported once by the anyOf error below
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return { ...pf.pos(path), message: `missing field ${quote(missing)}${path.length ? ` in ${field}` : ''}` };
    }
    case 'anyOf': {
      const alts = (e.schema as Array<{ required?: string[] }>).flatMap((s) => s.required ?? []);
      return { ...pf.pos(path), message: `${field} needs at least one of: ${alts.join(', ')}` };
    }
    case 'type': {
      const want = (e.params as { type: string }).type;
      // A string with a described form (a duration, a name) says which form.
      const expected = want === 'string' && parent.description ? parent.description : TYPE_NAMES[want] ?? want;
      return { ...pf.pos(path), message: `${field}: expected ${expected}, got ${describeValue(e.data)}` };
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      return { ...pf.pos(path), message: `${field}: expected one of ${allowed.join(', ')}, got ${describeValue(e.data)}` };
    }
    case 'const':
      return { ...pf.pos(path), message: `${field}: expected ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, got ${describeValue(e.data)}` };
    case 'pattern': {
      // propertyNames errors carry the offending name; point at that key.
      const name = (e.params as { propertyName?: string }).propertyName;
      if (e.propertyName !== undefined || name !== undefined) {
        const key = e.propertyName ?? name!;
        return { ...pf.keyPos(path, key), message: `name ${quote(key)}: expected ${parent.description ?? `a name matching ${parent.pattern}`}` };
      }
      return { ...pf.pos(path), message: `${field}: expected ${parent.description ?? `a string matching ${parent.pattern}`}, got ${describeValue(e.data)}` };
    }
    case 'propertyNames':
      return null; // the pattern error inside says which name and why
    default:
      return { ...pf.pos(path), message: `${field}: ${e.message ?? 'is not valid'}` };
  }
}

function yamlErrorMessage(code: string, message: string, text: string, pos: [number, number]): string {
  if (code === 'DUPLICATE_KEY') {
    const key = /^[^:\n]*/.exec(text.slice(pos[0]))![0].trim();
    return `duplicate key ${quote(key)}: a key may appear only once in a mapping`;
  }
  return shorten(message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''), 200);
}

/** Parses one file: YAML errors and YAML 1.1 traps go to errors; the document comes back when it parsed. */
function parseText(t: PolicyText, errors: PolicyError[]): { pf: ParsedFile; data: unknown; trapAt: Set<string> } | null {
  const lc = new LineCounter();
  const docs = parseAllDocuments(t.text, { version: '1.2', schema: 'core', uniqueKeys: true, prettyErrors: false, lineCounter: lc, merge: false });
  const list = Array.isArray(docs) ? docs : [];
  if (list.length === 0) {
    errors.push({ file: t.file, line: 1, column: 1, message: 'empty file: expected a mapping that starts with version: 1' });
    return null;
  }
  const pf = new ParsedFile(t.file, list[0], lc);
  if (list.length > 1) {
    errors.push({ ...pf.at(list[1].range[0]), message: 'a second YAML document: a policy file holds one document (drop the ---)' });
  }
  let broken = false;
  for (const d of list.slice(0, 1)) {
    for (const e of [...d.errors, ...d.warnings]) {
      errors.push({ ...pf.at(e.pos[0]), message: yamlErrorMessage(e.code, e.message, t.text, e.pos) });
      if (e.code !== 'DUPLICATE_KEY') broken = true;
    }
  }
  const trapAt = new Set<string>();
  visit(pf.doc, {
    Scalar(_key, node) {
      if (node.type !== 'PLAIN' || node.tag || !node.range) return;
      const trap = yaml11Trap(t.text.slice(node.range[0], node.range[1]));
      if (!trap) return;
      const at = pf.at(node.range[0]);
      trapAt.add(`${at.line}:${at.column}`);
      errors.push({ ...at, message: trap.message });
    },
  });
  if (broken) return null;
  return { pf, data: pf.doc.toJS({ maxAliasCount: 100 }), trapAt };
}

interface RawKey {
  alias: string;
  spec: Spec;
  'rotation-period'?: string;
  'deletion-window'?: string;
  exportable?: boolean;
  description?: string;
  labels?: Record<string, string>;
  state?: KeyDecl['state'];
}
interface RawRole {
  actors: string[];
  approvers?: number;
  'approval-for'?: ApprovableOp[];
}
interface RawRule {
  name: string;
  actors?: string[];
  roles?: string[];
  keys?: string[];
  allow?: Array<Operation | '*'>;
  deny?: Array<Operation | '*'>;
}
interface RawFile {
  version: 1;
  keys?: RawKey[];
  roles?: Record<string, RawRole>;
  rules?: RawRule[];
}

/** A duration field: checked whenever it is a string, with the same parser and messages as the CLI's flags. */
function duration(pf: ParsedFile, path: PathSeg[], value: unknown, range: { min: number; max: number }, trapAt: Set<string>, errors: PolicyError[]): number | null {
  if (typeof value !== 'string') return null; // absent, or a wrong type the schema has reported
  const at = pf.pos(path);
  if (trapAt.has(`${at.line}:${at.column}`)) return null; // `1:30`: the trap has said it better
  try {
    return parseDuration(String(path[path.length - 1]), value, range.min, range.max);
  } catch (e) {
    errors.push({ ...at, message: e instanceof KmsError ? e.message : String(e) });
    return null;
  }
}

/** The duration schema's own pattern error is left to duration() above, which says what to change. */
function isDurationFormError(e: ErrorObject): boolean {
  return e.keyword === 'pattern' && e.schemaPath.startsWith('#/$defs/duration/');
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function where(p: SourcePos): string {
  return `${p.file}:${p.line}:${p.column}`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** What accumulates across files: the declarations (for names declared twice) and the role references. */
interface Collected {
  keys: KeyDecl[];
  roles: RoleDecl[];
  rules: RuleDecl[];
  roleRefs: Array<{ name: string; pos: SourcePos }>;
}

/**
 * The checks a schema cannot make, on whatever parts of the file have the right shape: a file that
 * failed the schema still has its ranges and names checked. Declarations are collected as well; they
 * only become a PolicySet when no file has any error.
 */
function collect(pf: ParsedFile, data: unknown, trapAt: Set<string>, into: Collected, errors: PolicyError[]): void {
  if (!isObj(data)) return;
  const raw = data as Obj;

  (Array.isArray(raw.keys) ? (raw.keys as unknown[]) : []).forEach((k, i) => {
    if (!isObj(k)) return;
    const base: PathSeg[] = ['keys', i];
    const rotationPeriodS = duration(pf, [...base, 'rotation-period'], k['rotation-period'], ROTATION_PERIOD, trapAt, errors);
    const deletionWindowS = duration(pf, [...base, 'deletion-window'], k['deletion-window'], DELETION_WINDOW, trapAt, errors);
    if (typeof k.alias !== 'string') return;
    const pos = pf.pos([...base, 'alias']);
    if (k.alias.startsWith('k_')) errors.push({ ...pos, message: `alias ${quote(k.alias)}: the prefix k_ is reserved for key ids` });
    const first = into.keys.find((d) => d.alias === k.alias);
    if (first) errors.push({ ...pos, message: `alias ${quote(k.alias)} is declared twice: first at ${where(first.source)}` });
    const r = k as unknown as RawKey;
    into.keys.push({
      alias: r.alias,
      spec: r.spec,
      rotationPeriodS,
      deletionWindowS,
      exportable: r.exportable ?? false,
      description: r.description ?? null,
      labels: r.labels ?? {},
      state: r.state ?? 'enabled',
      source: pos,
    });
  });

  for (const [name, r] of Object.entries(isObj(raw.roles) ? raw.roles : {})) {
    const pos = pf.keyPos(['roles'], name);
    const first = into.roles.find((d) => d.name === name);
    if (first) errors.push({ ...pos, message: `role ${quote(name)} is declared twice: first at ${where(first.source)}` });
    const role = (isObj(r) ? r : {}) as Partial<RawRole>;
    if (role['approval-for'] !== undefined && role.approvers === undefined) {
      errors.push({ ...pf.keyPos(['roles', name], 'approval-for'), message: `role ${quote(name)}: approval-for needs approvers (how many other actors must approve)` });
    }
    into.roles.push({ name, actors: role.actors ?? [], approvers: role.approvers ?? 0, approvalFor: role['approval-for'] ?? [...APPROVABLE], source: pos });
  }

  (Array.isArray(raw.rules) ? (raw.rules as unknown[]) : []).forEach((r, i) => {
    if (!isObj(r)) return;
    const base: PathSeg[] = ['rules', i];
    if (Array.isArray(r.roles)) {
      (r.roles as unknown[]).forEach((role, j) => {
        if (typeof role === 'string') into.roleRefs.push({ name: role, pos: pf.pos([...base, 'roles', j]) });
      });
    }
    if (typeof r.name !== 'string') return;
    const pos = pf.pos([...base, 'name']);
    const first = into.rules.find((d) => d.name === r.name);
    if (first) errors.push({ ...pos, message: `rule ${quote(r.name)} is declared twice: first at ${where(first.source)}` });
    const rule = r as unknown as RawRule;
    into.rules.push({ name: rule.name, actors: strings(r.actors), roles: strings(r.roles), keys: rule.keys ?? ['*'], allow: rule.allow ?? [], deny: rule.deny ?? [], source: pos });
  });
}

/** Pure: policy texts in, the policy or every error out, in file order (as given), then line and column. */
export function parsePolicies(texts: PolicyText[]): { policy: PolicySet | null; errors: PolicyError[] } {
  const errors: PolicyError[] = [];
  const into: Collected = { keys: [], roles: [], rules: [], roleRefs: [] };
  const validate = schemaValidator();

  for (const t of texts) {
    const parsed = parseText(t, errors);
    if (!parsed) continue;
    const { pf, data, trapAt } = parsed;
    if (!validate(data)) {
      const seen = new Set<string>();
      for (const e of validate.errors ?? []) {
        if (isDurationFormError(e)) continue;
        const err = schemaError(pf, e);
        if (!err) continue;
        const id = `${err.line}:${err.column}`;
        // A trap at the same place has said it better (`exportable: yes` is not "expected true or false").
        if (trapAt.has(id)) continue;
        if (seen.has(`${id}:${err.message}`)) continue;
        seen.add(`${id}:${err.message}`);
        errors.push(err);
      }
    }
    collect(pf, data, trapAt, into, errors);
  }
  const { keys, roles, rules, roleRefs } = into;
  for (const ref of roleRefs) {
    if (!roles.some((r) => r.name === ref.name)) {
      const known = roles.map((r) => shorten(r.name));
      errors.push({ ...ref.pos, message: `unknown role ${quote(ref.name)}: expected a role declared under roles: in one of the files${known.length ? ` (${known.join(', ')})` : ' (none is)'}` });
    }
  }

  const order = new Map(texts.map((t, i) => [t.file, i]));
  errors.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line || a.column - b.column);
  if (errors.length > 0) return { policy: null, errors };

  const sources = texts.map((t) => ({ file: t.file, sha256: sha256(t.text) }));
  const byName = [...sources].sort((a, b) => basename(a.file).localeCompare(basename(b.file)));
  const hash = createHash('sha256');
  for (const s of byName) hash.update(`${basename(s.file)}\0${s.sha256}\n`);
  return { policy: { keys, roles, rules, sources, hash: hash.digest('hex') }, errors };
}

/** The files named on the command line; a directory stands for its *.yaml and *.yml files. */
export function readPolicyTexts(paths: string[]): PolicyText[] {
  if (paths.length === 0) throw usage('name the policy files (or a directory of them), e.g. policies/*.yaml');
  const files: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw notFound(`no policy file ${p}`, { reason: 'policy-file-not-found' });
    if (statSync(p).isDirectory()) {
      const inDir = readdirSync(p).filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join(p, n));
      if (inDir.length === 0) throw notFound(`no *.yaml or *.yml files in ${p}`, { reason: 'policy-file-not-found' });
      files.push(...inDir);
    } else {
      files.push(p);
    }
  }
  const unique = [...new Set(files)];
  return unique.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
}

export function formatErrors(errors: PolicyError[]): string {
  return errors.map((e) => `${where(e)}: ${e.message}`).join('\n');
}

/** Reads and checks the files; any error is exit 65 with every error listed, each with its place. */
export function loadPolicy(paths: string[]): PolicySet {
  const { policy, errors } = parsePolicies(readPolicyTexts(paths));
  if (!policy) {
    throw badData(`${errors.length} error${errors.length === 1 ? '' : 's'} in the policy files:\n${formatErrors(errors)}`, {
      reason: 'policy-invalid',
      details: { errors },
    });
  }
  return policy;
}
