import { blobKey, openWrapKey, unwrapWith, wrapWith, type WrapKey } from '../keys/envelope-ops.js';
import { openSignKey, signWith } from '../keys/sign.js';
import { readBlobInput, toText } from '../envelope/index.js';
import { denied } from '../errors.js';
import { runBatch, base64Field, contextField, field } from './batch.js';
import type { Runtime } from './runtime.js';
import type { CommandResult } from './result.js';

// The batch forms of wrap, unwrap, sign and datakey: the key is resolved and found on the token once,
// then every line is one token operation.

export async function wrapBatch(rt: Runtime, ref: string): Promise<CommandResult> {
  const ctx = await rt.keyCtx();
  const wk = await rt.audited('wrap', (scope) => { scope.details.batchOpen = true; return openWrapKey(ctx, scope, ref); });
  return runBatch(rt, 'wrap', (input) => {
    const w = wrapWith(ctx, wk, base64Field(input, 'plaintext'), contextField(input));
    return { out: { keyId: w.keyId, version: w.version, blob: toText(w.blob) }, keyId: w.keyId, alias: w.alias, version: w.version };
  });
}

export async function datakeyBatch(rt: Runtime, ref: string, bytes: number, count: number, context: Record<string, string>): Promise<CommandResult> {
  const ctx = await rt.keyCtx();
  const wk = await rt.audited('datakey', (scope) => { scope.details.batchOpen = true; return openWrapKey(ctx, scope, ref, 'datakey'); });
  return runBatch(rt, 'datakey', () => {
    const plaintext = ctx.token.random(bytes);
    const w = wrapWith(ctx, wk, plaintext, context);
    const out = { keyId: w.keyId, version: w.version, plaintext: plaintext.toString('base64'), blob: toText(w.blob) };
    plaintext.fill(0);
    return { out, keyId: w.keyId, alias: w.alias, version: w.version, details: { bytes } };
  }, { count });
}

export async function unwrapBatch(rt: Runtime): Promise<CommandResult> {
  const ctx = await rt.keyCtx();
  const keys = new Map<string, WrapKey>();
  // Each new key a line names is checked against the active policy, as a single unwrap would be.
  const guard = await rt.scopeFor('unwrap');
  return runBatch(rt, 'unwrap', (input) => {
    const blob = readBlobInput(Buffer.from(field(input, 'blob', 'string') as string));
    const id = `${blob.keyId}:${blob.keyVersion}`;
    let wk = keys.get(id);
    if (!wk) {
      wk = blobKey(ctx, guard, blob, 'unwrap');
      keys.set(id, wk);
    }
    const plaintext = unwrapWith(ctx, wk, blob, contextField(input));
    const out = { keyId: wk.key.id, version: wk.ver.version, plaintext: plaintext.toString('base64') };
    plaintext.fill(0);
    return { out, keyId: wk.key.id, alias: wk.key.alias, version: wk.ver.version };
  });
}

export async function signBatch(rt: Runtime, ref: string, o: { digest?: string; padding?: string; format?: string }): Promise<CommandResult> {
  const ctx = await rt.keyCtx();
  const sk = await rt.audited('sign', (scope) => { scope.details.batchOpen = true; return openSignKey(ctx, scope, ref, o); });
  if (sk.key.state !== 'enabled') throw denied(`key ${sk.key.alias} is ${sk.key.state}`);
  return runBatch(rt, 'sign', (input) => {
    const signature = signWith(ctx, sk, base64Field(input, 'data'));
    return { out: { keyId: sk.key.id, version: sk.ver.version, signature: signature.toString('base64') }, keyId: sk.key.id, alias: sk.key.alias, version: sk.ver.version, details: { digest: sk.params.digest ?? undefined } };
  });
}
