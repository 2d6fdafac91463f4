// The policy as kmsctl uses it once the files are read: plain data, with the place each item came
// from, so plan, apply and a denial can all name the file, line and column.

import type { Spec } from '../keys/specs.js';

export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

export const OPERATIONS = ['create', 'rotate', 'wrap', 'unwrap', 'datakey', 'rewrap', 'sign', 'verify', 'mac', 'mac-verify', 'disable', 'enable', 'delete', 'restore', 'purge'] as const;
export type Operation = (typeof OPERATIONS)[number];
export const APPROVABLE = ['delete', 'purge', 'restore'] as const;
export type ApprovableOp = (typeof APPROVABLE)[number];

export type DeclaredState = 'enabled' | 'disabled' | 'deleted';

export interface KeyDecl {
  alias: string;
  spec: Spec;
  rotationPeriodS: number | null;
  deletionWindowS: number | null;
  exportable: boolean;
  description: string | null;
  labels: Record<string, string>;
  state: DeclaredState;
  source: SourcePos;
}

export interface RoleDecl {
  name: string;
  actors: string[];
  /** Distinct actors other than the requester who must approve; 0 = none. */
  approvers: number;
  approvalFor: ApprovableOp[];
  source: SourcePos;
}

export interface RuleDecl {
  name: string;
  actors: string[];
  roles: string[];
  keys: string[];
  allow: Array<Operation | '*'>;
  deny: Array<Operation | '*'>;
  source: SourcePos;
}

/** What the gate needs at run time: stored in the ledger as JSON when a policy is applied. */
export interface RuleSet {
  roles: RoleDecl[];
  rules: RuleDecl[];
}

export interface SourceFile {
  file: string;
  sha256: string;
}

export interface PolicySet extends RuleSet {
  keys: KeyDecl[];
  sources: SourceFile[];
  /** sha256 over the source files, in the order given: what the ledger records with the rules. */
  hash: string;
}
