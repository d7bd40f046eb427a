import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout. Nothing that could carry a secret
 * (bodies, query strings, headers) is ever passed to it, which a test checks
 * by searching a full flow's trace-level log for every secret it used; a
 * redaction pass on every line would cost more than it protects.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  // stdout through a 4 KiB buffer: one write per dozen lines instead of a
  // write(2) per request (a tenth of the token endpoint's CPU, profiled).
  // pino flushes it synchronously on exit, so only a SIGKILL can lose the
  // last few lines.
  const sink = destination as pino.DestinationStream | undefined
    ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return pino({ level, base: { service: 'gatehouse' } }, sink);
}
