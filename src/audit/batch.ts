import type { Db } from '../ledger/db.js';
import { immediate } from '../ledger/db.js';
import { recordUse } from '../ledger/records.js';
import { appendAuditInTx, type Actor, type AuditEntry, type Sealer } from './append.js';

/**
 * Audit records of a batch: one record per item, written with the items' use counts in one transaction
 * per chunk, so a 20,000-item batch costs 20 commits, not 20,000. Flushed at the end on every path.
 */
export class AuditBatch {
  private entries: AuditEntry[] = [];
  private uses = new Map<string, { keyId: string; version: number; count: number }>();
  private written = 0;

  constructor(
    private readonly db: Db,
    private readonly who: Actor,
    private readonly now: () => Date,
    private readonly chunk = 1000,
    /** With a token session: each chunk's records are sealed in the chunk's transaction. */
    private readonly sealer?: Sealer,
  ) {}

  add(entry: AuditEntry, use?: { keyId: string; version: number }): void {
    this.entries.push(entry);
    if (use) {
      const k = `${use.keyId}:${use.version}`;
      const u = this.uses.get(k) ?? { ...use, count: 0 };
      u.count++;
      this.uses.set(k, u);
    }
    if (this.entries.length >= this.chunk) this.flush();
  }

  flush(): void {
    if (this.entries.length === 0) return;
    const entries = this.entries;
    const uses = [...this.uses.values()];
    this.entries = [];
    this.uses = new Map();
    const at = this.now();
    immediate(this.db, 'writing batch audit records', () => {
      for (const u of uses) recordUse(this.db, u.keyId, u.version, entries[0].command, at.toISOString(), u.count);
      appendAuditInTx(this.db, this.who, entries, at, this.sealer);
    });
    this.written += entries.length;
  }

  get count(): number {
    return this.written + this.entries.length;
  }
}
