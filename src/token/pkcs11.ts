import { createRequire } from 'node:module';
import type * as Pkcs11 from 'pkcs11js';

// pkcs11js is required here, once, rather than imported: an ES import of this CommonJS module copies
// its ~700 exported constants into a namespace object on every start, which costs a short command
// more than the module itself. Everything else imports P and the types from this file.
const require = createRequire(import.meta.url);
export const P: typeof Pkcs11 = require('pkcs11js');

export type Template = Pkcs11.Template;
export type Mechanism = Pkcs11.Mechanism;
export type PKCS11 = Pkcs11.PKCS11;
export type RsaPSS = Pkcs11.RsaPSS;
export type GcmParams = Pkcs11.GcmParams;
