import { sql as m001 } from './001-initial.js';
import { sql as m002 } from './002-audit-seal.js';
import { sql as m003 } from './003-policy.js';
import { sql as m004 } from './004-audit-alias-index.js';
import { sql as m005 } from './005-rolled-back-versions.js';

/** Numbered migrations; entry i brings user_version from i to i+1. Never edit one that has shipped. */
export const MIGRATIONS: string[] = [m001, m002, m003, m004, m005];
