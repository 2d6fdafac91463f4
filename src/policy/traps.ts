// Plain (unquoted) scalars that YAML 1.1 and YAML 1.2 read differently. kmsctl reads policies as
// YAML 1.2, but many tools and people still read 1.1, so a file that means two things is refused
// rather than silently taking one meaning: `exportable: yes`, `mode: 0755`, `window: 1:30`.

import { quote, shorten } from '../quote.js';

export interface Trap {
  kind: 'boolean' | 'leading-zero' | 'octal-0o' | 'sexagesimal' | 'binary' | 'digit-separator';
  message: string;
}

const BOOL_11 = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;
const TRUTHY = /^(y|yes|on)$/i;

/** Returns the trap a plain scalar's source text falls into, or null when both versions agree. */
export function yaml11Trap(raw: string): Trap | null {
  const r = shorten(raw); // the number traps match values of any length; the message stays one short line
  if (BOOL_11.test(raw)) {
    const b = TRUTHY.test(raw) ? 'true' : 'false';
    return { kind: 'boolean', message: `unquoted ${raw} is the boolean ${b} in YAML 1.1 but the string "${raw}" in YAML 1.2: write ${b} for a boolean, or "${raw}" for a string` };
  }
  if (/^[-+]?0[0-9]+$/.test(raw)) {
    return { kind: 'leading-zero', message: `${r} has a leading zero: YAML 1.1 reads it as octal, YAML 1.2 as decimal: drop the zero, or quote it for a string` };
  }
  if (/^[-+]?0o[0-7]+$/.test(raw)) {
    return { kind: 'octal-0o', message: `${r} is an octal number in YAML 1.2 but a string in YAML 1.1: write the decimal number, or quote it for a string` };
  }
  if (/^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/.test(raw)) {
    return { kind: 'sexagesimal', message: `${r} is a base-60 number in YAML 1.1 but a string in YAML 1.2: quote it (${quote(raw)}), or write a duration such as 90m` };
  }
  if (/^[-+]?0b[01_]+$/.test(raw)) {
    return { kind: 'binary', message: `${r} is a binary number in YAML 1.1 but a string in YAML 1.2: write the decimal number, or quote it` };
  }
  if (/^[-+]?[0-9][0-9]*(_[0-9]+)+$/.test(raw)) {
    return { kind: 'digit-separator', message: `${r} is a number in YAML 1.1 but a string in YAML 1.2: drop the underscores, or quote it` };
  }
  return null;
}
