import type { Handler } from '../result.js';
import { initEmbedded, initExternal, openInitSession } from '../../keys/init.js';
import { ensureAuditKey } from '../../audit/seal.js';
import { requireModuleFile } from '../../token/module.js';
import { resolvePin } from '../../token/pin.js';
import { usage } from '../../errors.js';
import { appendAudit } from '../../audit/append.js';
import { promptSecret } from '../prompt.js';

export const run: Handler = async (rt) => {
  const c = rt.config;
  const now = rt.now();
  let res;
  let pin: string | undefined;
  if (c.modulePath === undefined) {
    res = initEmbedded(c.home, now);
  } else {
    if (!c.token) throw usage('with --module, name the token: --token LABEL, --token-serial SERIAL or --token pkcs11:token=...');
    pin = await resolvePin({ env: process.env, pinFile: c.pinFile, prompt: rt.interactive ? promptSecret : undefined });
    res = initExternal(c.home, requireModuleFile(c.modulePath), c.token, pin, now);
  }
  let auditKeyCreated = false;
  try {
    // The audit key is made once per ledger; a second init finds it and changes nothing.
    const session = openInitSession(res, pin);
    try {
      const key = ensureAuditKey(res.db, session);
      auditKeyCreated = key.created;
      if (res.ledgerBound || key.created || key.recovered) {
        const details = { tokenSerial: res.token.serial, tokenLabel: res.token.label, embedded: res.embedded, tokenCreated: res.tokenCreated, auditKey: key.created ? 'created' : key.recovered ? 'recovered' : 'present' };
        appendAudit(res.db, rt.who, [{ command: 'init', outcome: 'success', durationMs: 0, details }], now, key.sealer);
      }
    } finally {
      session.close();
    }
  } finally {
    res.db.close();
  }
  const lines: string[] = [];
  if (res.embedded) {
    lines.push(res.tokenCreated ? `created the embedded SoftHSM token "${res.token.label}" (serial ${res.token.serial}) in ${res.home}/softhsm` : `the embedded token "${res.token.label}" (serial ${res.token.serial}) already exists`);
  }
  lines.push(res.ledgerBound ? `bound the ledger ${res.home}/ledger.db to token serial ${res.token.serial}` : `the ledger is already bound to token serial ${res.token.serial}${auditKeyCreated ? '' : ': nothing changed'}`);
  if (auditKeyCreated) lines.push('made the audit key "kmsctl-audit" on the token: audit records are sealed with it');
  if (res.embedded && !rt.flags.json && !rt.flags.quiet) {
    process.stderr.write('note: this is a development default; its PINs sit in 0600 files beside the token. Use --module with a real HSM for production keys.\n');
  }
  return {
    data: { home: res.home, embedded: res.embedded, token: res.token, tokenCreated: res.tokenCreated, ledgerBound: res.ledgerBound, auditKeyCreated, changed: res.tokenCreated || res.ledgerBound || auditKeyCreated },
    text: lines.join('\n'),
  };
};
