import type { Handler } from './result.js';

// Each command's handler, imported only when that command runs: a `verify` never loads the code of
// `create`, and the bundler sees every handler without a computed import path.
type Loader = () => Promise<{ run: Handler }>;

export const HANDLERS: Record<string, Loader> = {
  __aliases: () => import('./commands/__aliases.js'),
  approve: () => import('./commands/approve.js'),
  audit: () => import('./commands/audit.js'),
  'audit-export': () => import('./commands/audit-export.js'),
  'audit-verify': () => import('./commands/audit-verify.js'),
  completion: () => import('./commands/completion.js'),
  create: () => import('./commands/create.js'),
  datakey: () => import('./commands/datakey.js'),
  delete: () => import('./commands/delete.js'),
  demo: () => import('./commands/demo.js'),
  disable: () => import('./commands/disable.js'),
  doctor: () => import('./commands/doctor.js'),
  enable: () => import('./commands/enable.js'),
  init: () => import('./commands/init.js'),
  list: () => import('./commands/list.js'),
  mac: () => import('./commands/mac.js'),
  'mac-verify': () => import('./commands/mac-verify.js'),
  policy: () => import('./commands/policy.js'),
  'policy-apply': () => import('./commands/policy-apply.js'),
  'policy-plan': () => import('./commands/policy-plan.js'),
  'policy-validate': () => import('./commands/policy-validate.js'),
  'public-key': () => import('./commands/public-key.js'),
  purge: () => import('./commands/purge.js'),
  report: () => import('./commands/report.js'),
  requests: () => import('./commands/requests.js'),
  restore: () => import('./commands/restore.js'),
  rewrap: () => import('./commands/rewrap.js'),
  rotate: () => import('./commands/rotate.js'),
  show: () => import('./commands/show.js'),
  sign: () => import('./commands/sign.js'),
  unwrap: () => import('./commands/unwrap.js'),
  verify: () => import('./commands/verify.js'),
  wrap: () => import('./commands/wrap.js'),
};
