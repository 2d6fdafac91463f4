// Grows a bound ledger to a given scale for the ledger benchmarks: N extra keys (one version each, in
// the ledger only: list/show/audit read the ledger) and M audit records chained exactly as kmsctl
// chains them (src/audit/canonical.ts). The records are left unsealed; the next kmsctl command that
// opens the token seals them.
// Usage: node bench/big-ledger.mjs HOME KEYS RECORDS
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { recordHash, GENESIS_HASH, canonicalJson } from '../dist/audit/canonical.js';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');
const [home, keysArg, recordsArg] = process.argv.slice(2);
const nKeys = Number(keysArg);
const nRecords = Number(recordsArg);

const db = new Database(join(home, 'ledger.db'));
db.pragma('journal_mode = WAL');
const now = new Date().toISOString();

const insKey = db.prepare(`INSERT INTO keys (id, alias, spec, purpose, state, primary_version, created_at, updated_at, labels, last_rotated_at)
  VALUES (?, ?, 'aes-256', 'wrap', 'enabled', 1, ?, ?, '{}', ?)`);
const insVer = db.prepare(`INSERT INTO versions (key_id, version, state, cka_id, created_at) VALUES (?, 1, 'enabled', ?, ?)`);
const ids = [];
db.transaction(() => {
  for (let i = 0; i < nKeys; i++) {
    const id = `k_${randomBytes(10).toString('hex')}`;
    ids.push(id);
    insKey.run(id, `scale-${String(i).padStart(6, '0')}`, now, now, now);
    insVer.run(id, randomBytes(16), now);
  }
})();

const last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get();
let seq = last ? last.seq : 0;
let prev = last ? last.hash : GENESIS_HASH;
const cols = db.prepare('PRAGMA table_info(audit)').all().map((c) => c.name);
const insAudit = db.prepare(`INSERT INTO audit (seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details, prev_hash, hash)
  VALUES (@seq, @ts, @actor, @os_user, @host, @command, @key_id, @alias, @version, @outcome, @error_code, @duration_ms, @details, @prev_hash, @hash)`);
const commands = ['wrap', 'unwrap', 'sign', 'datakey'];
const chunk = 50_000;
for (let done = 0; done < nRecords; done += chunk) {
  db.transaction(() => {
    for (let i = done; i < Math.min(nRecords, done + chunk); i++) {
      const k = ids.length ? ids[i % ids.length] : null;
      const r = {
        seq: ++seq,
        ts: new Date(Date.now() - (nRecords - i) * 1000).toISOString(),
        actor: 'bench',
        os_user: 'bench',
        host: 'bench',
        command: commands[i & 3],
        key_id: k,
        alias: k ? `scale-${String(i % ids.length).padStart(6, '0')}` : null,
        version: k ? 1 : null,
        outcome: i % 50 === 0 ? 'failure' : 'success',
        error_code: i % 50 === 0 ? 'context-mismatch' : null,
        duration_ms: 1 + (i % 7),
        details: canonicalJson({ batch: true }),
      };
      const hash = recordHash(r, prev);
      insAudit.run({ ...r, prev_hash: prev, hash });
      prev = hash;
    }
  })();
}
db.close();
process.stdout.write(`${JSON.stringify({ keys: nKeys, records: nRecords, columns: cols.length })}\n`);
