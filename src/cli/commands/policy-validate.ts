import type { Handler } from '../result.js';
import { loadPolicy } from '../../policy/load.js';

export const run: Handler = async (_rt, files) => {
  const p = loadPolicy(files);
  const approvals = p.roles.filter((r) => r.approvers > 0).map((r) => r.name);
  const summary = `${p.keys.length} key${p.keys.length === 1 ? '' : 's'}, ${p.roles.length} role${p.roles.length === 1 ? '' : 's'}, ${p.rules.length} rule${p.rules.length === 1 ? '' : 's'}`;
  return {
    data: { valid: true, hash: p.hash, sources: p.sources, keys: p.keys.map((k) => k.alias), roles: p.roles.map((r) => r.name), rules: p.rules.map((r) => r.name), approvalRoles: approvals },
    text: `valid: ${p.sources.map((s) => s.file).join(', ')} (${summary})`,
  };
};
