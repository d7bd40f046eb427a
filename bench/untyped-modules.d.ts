/**
 * The parts of untyped modules that the bench uses.
 */

/** autocannon's programmatic API (its README, "API"), as bench/load-unique.ts uses it. */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface RawRequest {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }

  export interface RequestStep extends RawRequest {
    setupRequest?: (request: RawRequest, context: Record<string, unknown>) => RawRequest | undefined;
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
  }

  export interface Client extends EventEmitter {
    setRequests(requests: RequestStep[]): void;
  }

  export interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    method?: string;
    headers?: Record<string, string>;
    requests?: RequestStep[];
    setupClient?: (client: Client) => void;
  }

  export interface Result {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    errors: number;
    non2xx: number;
    statusCodeStats: Record<string, { count: number }>;
    duration: number;
  }

  export interface Instance extends EventEmitter, PromiseLike<Result> {}

  function autocannon(options: Options): Instance;
  export default autocannon;
}

/**
 * oidc-provider's own in-memory adapter, the one it uses when given none
 * (lib/helpers/initialize_adapter.js); bench/baseline-server.ts needs it to
 * give one model a store of its own.
 */
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { Adapter, AdapterFactory } from 'oidc-provider';

  /** `store` is anything with Map's get, set and delete; by default the module's shared LRU. */
  const MemoryAdapter: new (model: string, store?: Map<string, unknown>) => Adapter;
  export default MemoryAdapter;
  /** What oidc-provider builds when given no adapter: every model in one fresh 1000-entry LRU. */
  export function createMemoryAdapter(clockTolerance?: number): AdapterFactory;
}
