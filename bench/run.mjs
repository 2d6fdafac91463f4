// npm run bench: kmsctl's speed against baselines measured in the same run on the same machine.
// Whole-process figures are medians over alternating runs (A B A B ...), and ratios are taken pair by
// pair, so a machine that drifts or is shared still gives comparable numbers. Prints a table and writes
// bench/results.json. Takes a few minutes; BENCH_QUICK=1 shrinks every size for a smoke run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'kmsctl');
const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = QUICK ? 5 : 21;
const BATCH = QUICK ? 2_000 : 20_000;
const BATCH_BIG = QUICK ? 20_000 : 200_000;
const SCALE_KEYS = QUICK ? 10_000 : 100_000;
const SCALE_RECORDS = QUICK ? 100_000 : 1_000_000;
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const MODULE = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'].find(existsSync);
if (!existsSync(join(ROOT, 'dist', 'cli', 'entry.js'))) throw new Error('build first: npm run build');
if (!MODULE) throw new Error('SoftHSM2 is not installed');

const work = mkdtempSync(join(tmpdir(), 'kmsctl-bench-'));
const home = join(work, 'home');
const env = { PATH: process.env.PATH, HOME: work, KMSCTL_HOME: home, NO_COLOR: '1', LANG: 'C.UTF-8' };
const log = (s) => process.stderr.write(`${s}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { env: { ...env, ...opts.env }, cwd: work, input: opts.input, maxBuffer: 1 << 30 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}
const kms = (args, opts) => run(process.execPath, [BIN, ...args], opts);
const json = (args, opts) => JSON.parse(kms([...args, '--json'], opts).stdout.toString());

function wallMs(cmd, args, opts) {
  const t0 = performance.now();
  run(cmd, args, opts);
  return performance.now() - t0;
}

/** Peak RSS in MiB of one run, from GNU time's accounting of the finished process. */
function peakMiB(cmd, args, opts) {
  if (!GNU_TIME) return null;
  const out = join(work, 'rss.txt');
  run(GNU_TIME, ['-f', '%M', '-o', out, cmd, ...args], opts);
  return Math.round(Number(readFileSync(out, 'utf8').trim().split('\n').pop()) / 102.4) / 10;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A and B alternately, after a warm-up of each; medians and the median of the pairwise ratios. */
function pair(a, b, opts = {}) {
  for (let i = 0; i < 2; i++) {
    wallMs(...a, opts);
    wallMs(...b, opts);
  }
  const as = [];
  const bs = [];
  for (let i = 0; i < RUNS; i++) {
    as.push(wallMs(...a, opts));
    bs.push(wallMs(...b, opts));
  }
  return { aMs: median(as), bMs: median(bs), ratio: median(as.map((x, i) => x / bs[i])) };
}

const results = { machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, runs: RUNS, startup: {}, batch: {}, scale: {} };

try {
  log('setting up a token and keys...');
  kms(['init']);
  const sign = json(['create', 'bench-sign', '--spec', 'ec-p256']).key;
  const wrapKey = json(['create', 'bench-wrap', '--spec', 'aes-256']).key;
  const signId = json(['show', 'bench-sign']).key.versions[0].ckaId;
  const wrapId = json(['show', 'bench-wrap']).key.versions[0].ckaId;
  writeFileSync(join(work, 'msg'), randomBytes(1024));
  writeFileSync(join(work, 'digest'), randomBytes(32));
  writeFileSync(join(work, 'dek'), randomBytes(32));
  kms(['sign', 'bench-sign', '--in', 'msg', '--out', 'msg.sig']);
  const pin = readFileSync(join(home, 'softhsm', 'user.pin'), 'utf8').split('\n')[0];
  const hsmEnv = { SOFTHSM2_CONF: join(home, 'softhsm', 'softhsm2.conf'), BENCH_PIN: pin };

  // 1. Start-up: whole-process medians against `node -e ""` and against pkcs11-tool --sign.
  const nodeEmpty = [process.execPath, ['-e', '']];
  const cases = {
    sign: ['sign', 'bench-sign', '--in', 'msg', '--out', 'out.sig'],
    wrap: ['wrap', 'bench-wrap', '--in', 'dek', '--out', 'dek.wrapped'],
    verify: ['verify', 'bench-sign', '--in', 'msg', '--signature', 'msg.sig'],
    list: ['list'],
  };
  for (const [name, args] of Object.entries(cases)) {
    log(`start-up: kmsctl ${name} vs node -e ""`);
    const p = pair([process.execPath, [BIN, ...args]], nodeEmpty);
    results.startup[name] = { medianMs: +p.aMs.toFixed(1), nodeEmptyMs: +p.bMs.toFixed(1), ratioToNodeEmpty: +p.ratio.toFixed(3), peakMiB: peakMiB(process.execPath, [BIN, ...args]) };
  }
  log('start-up: kmsctl sign vs pkcs11-tool --sign');
  const tool = spawnSync('sh', ['-c', 'command -v pkcs11-tool']).status === 0;
  if (tool) {
    const toolArgs = ['--module', MODULE, '--token-label', 'kmsctl', '--login', '--pin', 'env:BENCH_PIN', '--sign', '-m', 'ECDSA', '--id', signId, '-i', 'digest', '-o', 'tool.sig'];
    const p = pair([process.execPath, [BIN, ...cases.sign]], ['pkcs11-tool', toolArgs], { env: hsmEnv });
    results.startup.pkcs11ToolSign = { medianMs: +p.bMs.toFixed(1), kmsctlSignMs: +p.aMs.toFixed(1), ratioKmsctlToTool: +p.ratio.toFixed(2), peakMiB: peakMiB('pkcs11-tool', toolArgs, { env: hsmEnv }) };
  }

  // 2. Batch throughput with audit on, against a plain pkcs11js loop doing the same token operations.
  const lines = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join('\n') + '\n';
  const dataIn = (n) => lines(n, () => JSON.stringify({ data: randomBytes(64).toString('base64') }));
  const plainIn = (n) => lines(n, () => JSON.stringify({ plaintext: randomBytes(32).toString('base64') }));
  const timed = (args, input) => {
    const t0 = performance.now();
    kms(args, { input });
    return (performance.now() - t0) / 1000;
  };
  log(`batch: ${BATCH} signs and wraps through kmsctl and through a plain pkcs11js loop`);
  const signS = timed(['sign', 'bench-sign', '--batch', '--quiet'], dataIn(BATCH));
  const wrapS = timed(['wrap', 'bench-wrap', '--batch', '--quiet'], plainIn(BATCH));
  // The baseline times its loop alone; an empty batch's whole-process time (start-up, login, the
  // audit key) is taken off kmsctl's to compare the same thing, and both rates are reported.
  const emptyS = median([0, 1, 2].map(() => timed(['wrap', 'bench-wrap', '--batch', '--quiet'], '')));
  const base = JSON.parse(run(process.execPath, [join(ROOT, 'bench', 'baseline-pkcs11.mjs'), MODULE, 'kmsctl', signId, wrapId, String(BATCH)], { env: { ...hsmEnv, KMSCTL_PIN: pin } }).stdout.toString());
  results.batch = {
    items: BATCH,
    signPerSecond: Math.round(BATCH / signS),
    wrapPerSecond: Math.round(BATCH / wrapS),
    baselineSignPerSecond: base.signPerSecond,
    baselineWrapPerSecond: base.wrapPerSecond,
    signRatio: +(BATCH / signS / base.signPerSecond).toFixed(3),
    wrapRatio: +(BATCH / wrapS / base.wrapPerSecond).toFixed(3),
    emptyBatchMs: Math.round(emptyS * 1000),
    signPerSecondSteady: Math.round(BATCH / (signS - emptyS)),
    wrapPerSecondSteady: Math.round(BATCH / (wrapS - emptyS)),
    signRatioSteady: +(BATCH / (signS - emptyS) / base.signPerSecond).toFixed(3),
    wrapRatioSteady: +(BATCH / (wrapS - emptyS) / base.wrapPerSecond).toFixed(3),
  };
  log(`batch memory: wrap --batch with ${BATCH} and ${BATCH_BIG} items`);
  writeFileSync(join(work, 'small.jsonl'), plainIn(BATCH));
  writeFileSync(join(work, 'big.jsonl'), plainIn(BATCH_BIG));
  const rssSmall = peakMiB('sh', ['-c', `exec "${process.execPath}" "${BIN}" wrap bench-wrap --batch --quiet < small.jsonl > /dev/null`]);
  const rssBig = peakMiB('sh', ['-c', `exec "${process.execPath}" "${BIN}" wrap bench-wrap --batch --quiet < big.jsonl > /dev/null`]);
  Object.assign(results.batch, { peakMiBSmall: rssSmall, peakMiBBig: rssBig, bigItems: BATCH_BIG, memoryGrowth: rssSmall && rssBig ? +(rssBig / rssSmall).toFixed(3) : null });

  // 3-4. A ledger at scale: 100,000 keys and 1,000,000 audit records.
  log(`scale: growing the ledger to ${SCALE_KEYS} keys and ${SCALE_RECORDS} audit records`);
  run(process.execPath, [join(ROOT, 'bench', 'big-ledger.mjs'), home, String(SCALE_KEYS), String(SCALE_RECORDS)]);
  let t0 = performance.now();
  kms(['rotate', 'bench-sign']); // the first token command after the growth seals the new records
  results.scale.sealMs = Math.round(performance.now() - t0);
  const total = json(['audit', '--limit', '1']).records[0].seq;
  const verifyHelp = kms(['audit', 'verify', '--help'], { allowFail: true });
  if (verifyHelp.status === 0) {
    t0 = performance.now();
    const v = kms(['audit', 'verify'], { allowFail: true });
    const s = (performance.now() - t0) / 1000;
    results.scale.auditVerify = { records: total, seconds: +s.toFixed(2), recordsPerSecond: Math.round(total / s), exit: v.status, peakMiB: peakMiB(process.execPath, [BIN, 'audit', 'verify']) };
  }
  for (const [name, args] of Object.entries({ list: ['list', '--limit', '100'], show: ['show', 'scale-050000'], auditKey: ['audit', '--key', 'scale-050000', '--limit', '100'] })) {
    const ok = kms(args, { allowFail: true }).status === 0 ? args : name === 'list' ? ['list'] : args;
    const ms = [];
    for (let i = 0; i < (QUICK ? 3 : 9); i++) ms.push(wallMs(process.execPath, [BIN, ...ok]));
    results.scale[name] = { args: ok.join(' '), medianMs: Math.round(median(ms)), peakMiB: peakMiB(process.execPath, [BIN, ...ok]) };
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
const s = results.startup;
const rows = [
  ['kmsctl sign (ec-p256)', `${s.sign.medianMs} ms`, `${s.sign.ratioToNodeEmpty}x node -e ""`, '<= 1.4x', s.sign.peakMiB],
  ['kmsctl wrap', `${s.wrap.medianMs} ms`, `${s.wrap.ratioToNodeEmpty}x node -e ""`, '', s.wrap.peakMiB],
  ['kmsctl verify', `${s.verify.medianMs} ms`, `${s.verify.ratioToNodeEmpty}x node -e ""`, '<= 1.25x', s.verify.peakMiB],
  ['kmsctl list', `${s.list.medianMs} ms`, `${s.list.ratioToNodeEmpty}x node -e ""`, '<= 1.25x', s.list.peakMiB],
  ['node -e ""', `${s.sign.nodeEmptyMs} ms`, '1x', '', ''],
  ...(s.pkcs11ToolSign ? [['pkcs11-tool --sign', `${s.pkcs11ToolSign.medianMs} ms`, `kmsctl sign = ${s.pkcs11ToolSign.ratioKmsctlToTool}x`, '', s.pkcs11ToolSign.peakMiB]] : []),
  [`sign --batch (${results.batch.items})`, `${results.batch.signPerSecond}/s`, `${results.batch.signRatio}x pkcs11js loop (${results.batch.baselineSignPerSecond}/s)`, '>= 0.7x', ''],
  ['  without start-up', `${results.batch.signPerSecondSteady}/s`, `${results.batch.signRatioSteady}x`, '', ''],
  [`wrap --batch (${results.batch.items})`, `${results.batch.wrapPerSecond}/s`, `${results.batch.wrapRatio}x pkcs11js loop (${results.batch.baselineWrapPerSecond}/s)`, '>= 0.7x', results.batch.peakMiBSmall],
  ['  without start-up', `${results.batch.wrapPerSecondSteady}/s`, `${results.batch.wrapRatioSteady}x`, '', ''],
  [`wrap --batch (${results.batch.bigItems})`, '', `peak RSS ${results.batch.memoryGrowth}x the small batch`, '<= 1.2x', results.batch.peakMiBBig],
  ...(results.scale.auditVerify ? [[`audit verify (${results.scale.auditVerify.records} records)`, `${results.scale.auditVerify.recordsPerSecond}/s`, `${results.scale.auditVerify.seconds} s`, '>= 200000/s', results.scale.auditVerify.peakMiB]] : []),
  [`${results.scale.list.args} (${SCALE_KEYS} keys)`, `${results.scale.list.medianMs} ms`, '', '< 150 ms', results.scale.list.peakMiB],
  [`${results.scale.show.args}`, `${results.scale.show.medianMs} ms`, '', '< 150 ms', results.scale.show.peakMiB],
  [`${results.scale.auditKey.args}`, `${results.scale.auditKey.medianMs} ms`, `(${SCALE_RECORDS} records)`, '< 150 ms', results.scale.auditKey.peakMiB],
];
const head = ['what', 'median / rate', 'against the baseline', 'goal', 'peak MiB'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
const fmt = (r) => r.map((c, i) => String(c ?? '').padEnd(widths[i])).join('  ').trimEnd();
process.stdout.write(`${[fmt(head), ...rows.map(fmt)].join('\n')}\n\n${results.machine.cpus} cores, ${results.machine.model}, node ${results.machine.node}; ${RUNS} runs per start-up figure; details in bench/results.json\n`);
