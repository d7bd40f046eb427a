import type { PayloadStore } from './contract.js';

/** Receives the duration (seconds) and outcome of each storage call. */
export type StorageObserver = (operation: string, seconds: number, failed: boolean) => void;

const OPERATIONS = ['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId', 'revokeByClientId', 'expiries', 'countByClient', 'consumeAndUpsert', 'ping'] as const;

/** Wraps a PayloadStore so every call reports its latency and failures. */
export function instrumentStore<T extends PayloadStore>(store: T, observe: StorageObserver): T {
  const wrapped = Object.create(store) as T;
  for (const operation of OPERATIONS) {
    const original = store[operation as keyof PayloadStore] as unknown as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (typeof original !== 'function') continue;
    (wrapped as unknown as Record<string, unknown>)[operation] = async (...args: unknown[]) => {
      const started = process.hrtime.bigint();
      let failed = false;
      try {
        return await original.apply(store, args);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        observe(operation, Number(process.hrtime.bigint() - started) / 1e9, failed);
      }
    };
  }
  return wrapped;
}
