import { P } from '../token/pkcs11.js';
import { USAGE_FLAGS, type Token } from '../token/token.js';
import type { AttributeReader, ObjectAttributes } from './query.js';

// Provenance read live from the token for show: where a key came from and what it may do.

const BOOL_ATTRS: Array<[number, keyof ObjectAttributes]> = [
  [P.CKA_LOCAL, 'local'],
  [P.CKA_SENSITIVE, 'sensitive'],
  [P.CKA_EXTRACTABLE, 'extractable'],
  [P.CKA_ALWAYS_SENSITIVE, 'alwaysSensitive'],
  [P.CKA_NEVER_EXTRACTABLE, 'neverExtractable'],
];
export function objectAttributes(token: Token, cls: 'secret' | 'private' | 'public', ckaId: Buffer): ObjectAttributes {
  const klass = cls === 'secret' ? P.CKO_SECRET_KEY : cls === 'private' ? P.CKO_PRIVATE_KEY : P.CKO_PUBLIC_KEY;
  const hits = token.find([{ type: P.CKA_CLASS, value: klass }, { type: P.CKA_ID, value: ckaId }]);
  if (hits.length !== 1) return { class: cls, present: false };
  const out: ObjectAttributes = { class: cls, present: true, usage: [] };
  const wanted = cls === 'public' ? BOOL_ATTRS.filter(([, n]) => n === 'local') : BOOL_ATTRS;
  const vals = token.attributes(hits[0], [...wanted.map(([t]) => t), ...USAGE_FLAGS[cls].map(([t]) => t)]);
  for (const [t, name] of wanted) (out as unknown as Record<string, boolean>)[name] = vals.get(t)?.[0] === 1;
  for (const [t, name] of USAGE_FLAGS[cls]) if (vals.get(t)?.[0] === 1) out.usage!.push(name);
  return out;
}


export function attributeReader(token: Token): AttributeReader {
  return (cls, ckaId) => objectAttributes(token, cls, ckaId);
}
