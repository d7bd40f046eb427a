import type { PayloadStore } from './contract.js';

/** Receives the duration (seconds) and outcome of each storage call. */
export type StorageObserver = (operation: string, seconds: number, failed: boolean) => void;

const OPERATIONS = ['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId', 'revokeByClientId', 'countByClient', 'ping'] as const;

/** Runs one storage call (`call`) on behalf of `operation`; may observe it or translate its failure. */
export type StoreCallWrapper = (operation: string, call: () => Promise<unknown>) => Promise<unknown>;

/** A PayloadStore whose every asynchronous operation goes through `around`; everything else is the store's own. */
export function wrapStore<T extends PayloadStore>(store: T, around: StoreCallWrapper): T {
  const wrapped = Object.create(store) as T;
  for (const operation of OPERATIONS) {
    const original = store[operation as keyof PayloadStore] as unknown as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (typeof original !== 'function') continue;
    (wrapped as unknown as Record<string, unknown>)[operation] = (...args: unknown[]) => around(operation, () => original.apply(store, args));
  }
  return wrapped;
}

/** Wraps a PayloadStore so every call reports its latency and failures. */
export function instrumentStore<T extends PayloadStore>(store: T, observe: StorageObserver): T {
  return wrapStore(store, async (operation, call) => {
    const started = process.hrtime.bigint();
    let failed = false;
    try {
      return await call();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      observe(operation, Number(process.hrtime.bigint() - started) / 1e9, failed);
    }
  });
}
