import type { AdapterFactory } from 'oidc-provider';

// Keys per stored chunk: a manifest of 100,000 usernames is 20 rows, and is
// read and written a chunk at a time.
const CHUNK = 5000;
const MODEL = 'ImportManifest';

/**
 * The keys (client ids, usernames) an import brought across, per source and
 * table, so the next run can report the ones the source no longer has. Kept
 * in the durable tier through the provider's adapter, in chunks.
 */
export class ImportManifest {
  private readonly store;

  constructor(adapter: AdapterFactory, private readonly source: string) {
    this.store = adapter(MODEL);
  }

  private id(table: string, chunk: number) {
    return `${this.source}:${table}:${chunk}`;
  }

  /** The previous run's keys, a chunk at a time. */
  async *previous(table: string): AsyncGenerator<string[]> {
    for (let chunk = 0; ; chunk += 1) {
      const stored = await this.store.find(this.id(table, chunk)) as { keys?: string[] } | undefined;
      if (!stored?.keys) return;
      yield stored.keys;
    }
  }

  /** A writer for this run's keys; `close` drops chunks left over from a longer previous run. */
  writer(table: string) {
    let chunk = 0;
    let keys: string[] = [];
    const flush = async () => {
      const id = this.id(table, chunk);
      await this.store.upsert(id, { jti: id, kind: MODEL, keys } as never, undefined as never);
      chunk += 1;
      keys = [];
    };
    return {
      add: async (key: string) => {
        keys.push(key);
        if (keys.length >= CHUNK) await flush();
      },
      close: async () => {
        if (keys.length) await flush();
        for (let stale = chunk; await this.store.find(this.id(table, stale)); stale += 1) await this.store.destroy(this.id(table, stale));
      },
    };
  }
}
