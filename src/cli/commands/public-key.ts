import type { Handler } from '../result.js';
import { publicKeyPem } from '../../keys/query.js';
import { parseVersion, writeOutputAtomic } from '../io.js';

export const run: Handler = async (rt, [ref], o) => {
  const p = publicKeyPem(rt.ledgerCtx(), ref, parseVersion(o.version));
  const data: Record<string, unknown> = { keyId: p.key.id, alias: p.key.alias, version: p.version, spec: p.key.spec, pem: p.pem };
  if (o.out) {
    writeOutputAtomic(String(o.out), p.pem);
    data.out = o.out;
    return { data, text: '' };
  }
  return { data, text: p.pem };
};
