import type { Handler } from '../result.js';
import { createKey } from '../../keys/create.js';
import { keyView } from '../../keys/query.js';
import { parseDuration, DELETION_WINDOW, ROTATION_PERIOD } from '../../duration.js';
import { usage } from '../../errors.js';
import { quote } from '../../quote.js';

function labels(pairs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw usage(`--label ${quote(p)} must be key=value`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

export const run: Handler = async (rt, [alias], o) => {
  if (o.spec === undefined) throw usage('create needs --spec (aes-256, hmac-sha256, ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096)');
  const rotationPeriodS = o.rotationPeriod === undefined ? undefined : parseDuration('--rotation-period', String(o.rotationPeriod), ROTATION_PERIOD.min, ROTATION_PERIOD.max);
  const deletionWindowS = o.deletionWindow === undefined ? undefined : parseDuration('--deletion-window', String(o.deletionWindow), DELETION_WINDOW.min, DELETION_WINDOW.max);
  const lbl = labels(o.label as string[] | undefined);
  const ctx = await rt.keyCtx();
  const { key } = await rt.audited('create', (scope) =>
    createKey(ctx, scope, { alias, spec: String(o.spec), rotationPeriodS, deletionWindowS, description: o.description as string | undefined, labels: lbl }),
  );
  return { data: { key: keyView(key) }, text: `created ${key.alias} (${key.id}, ${key.spec}, version 1)` };
};
