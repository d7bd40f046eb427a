import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout. Nothing that could carry a secret
 * (bodies, query strings, headers) is ever passed to it, which a test checks
 * by searching a full flow's trace-level log for every secret it used; a
 * redaction pass on every line would cost more than it protects.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { service: 'gatehouse' } }, destination as pino.DestinationStream | undefined);
}
