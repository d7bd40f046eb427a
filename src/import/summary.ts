/** What an import did (or, with --dry-run, would do) to one table's rows. */
export interface TableSummary {
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
  /** Rows imported by an earlier run that the source no longer has (reported, never deleted). */
  vanished: number;
  /** How many rows were skipped for each reason. */
  reasons: Record<string, number>;
}

export interface SkippedRow {
  table: string;
  /** The row's key: a client id, a username, or a token's row id in the source. */
  key: string;
  reason: string;
}

export interface VanishedRow {
  table: string;
  key: string;
}

// Each list keeps its first rows; the counts above stay exact.
const LISTED_AT_MOST = 1000;

export class ImportSummary {
  readonly tables: Record<string, TableSummary> = {};
  readonly skips: SkippedRow[] = [];
  readonly vanished: VanishedRow[] = [];

  constructor(readonly dryRun: boolean) {}

  table(name: string): TableSummary {
    return (this.tables[name] ??= { created: 0, updated: 0, unchanged: 0, skipped: 0, vanished: 0, reasons: {} });
  }

  count(table: string, outcome: 'created' | 'updated' | 'unchanged'): void {
    this.table(table)[outcome] += 1;
  }

  skip(table: string, key: string, reason: string): void {
    const summary = this.table(table);
    summary.skipped += 1;
    summary.reasons[reason] = (summary.reasons[reason] ?? 0) + 1;
    if (this.skips.length < LISTED_AT_MOST) this.skips.push({ table, key, reason });
  }

  gone(table: string, key: string): void {
    this.table(table).vanished += 1;
    if (this.vanished.length < LISTED_AT_MOST) this.vanished.push({ table, key });
  }

  toJSON() {
    return { dry_run: this.dryRun, tables: this.tables, skipped: this.skips, vanished: this.vanished };
  }
}
