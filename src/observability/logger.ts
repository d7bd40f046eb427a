import { pino, type Logger, type LoggerOptions } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

/** LOG_FORMAT, or when it is unset: readable lines for a person at a terminal, JSON for everything else. */
export function logFormat(configured: 'json' | 'pretty' | undefined): 'json' | 'pretty' {
  return configured ?? (process.stdout.isTTY ? 'pretty' : 'json');
}

type Sink = ReturnType<typeof pino.destination>;

// Lines reach stdout at least this often on a quiet server (`tail -f`, a first start).
const FLUSH_EVERY_MS = 1000;
const sinks = new WeakMap<Logger, Sink>();

/**
 * The process logger: JSON lines on stdout. Nothing that could carry a secret
 * (bodies, query strings, headers) is ever passed to it, which a test checks
 * by searching a full flow's trace-level log for every secret it used; a
 * redaction pass on every line would cost more than it protects.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: 'json' | 'pretty' = 'json'): Logger {
  // ISO times in JSON lines: readable by people and parsed by every log pipeline.
  const options: LoggerOptions = { level, base: { service: 'gatehouse' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination) return pino(options, destination as pino.DestinationStream);
  if (format === 'pretty') {
    // For a person at a terminal: one readable line per event, written at once.
    return pino(options, PinoPretty({ colorize: Boolean(process.stdout.isTTY), translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service', destination: 1, sync: true }));
  }
  // stdout through a 4 KiB buffer: one write per dozen lines instead of a
  // write(2) per request (a tenth of the token endpoint's CPU, profiled),
  // flushed at least every second.
  const sink = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => {
    try { sink.flush(); } catch { /* destroyed or not ready: nothing to flush */ }
  }, FLUSH_EVERY_MS).unref();
  const logger = pino(options, sink);
  sinks.set(logger, sink);
  return logger;
}

/**
 * Writes out what the logger still holds, waiting at most `withinMs`, and
 * then makes sure nothing can block the process's exit on stdout. pino
 * flushes its buffer synchronously when the process exits, and sonic-boom
 * 4.2.1's synchronous flush retries any write error but EAGAIN for ever: once
 * the reader of stdout has gone (EPIPE), `process.exit` would never return
 * and a stopping server would hang, its force-exit timer never firing.
 */
export async function settleLogs(logger: Logger, withinMs = 500): Promise<void> {
  const sink = sinks.get(logger);
  if (!sink) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, withinMs);
    try {
      sink.flush(() => { clearTimeout(timer); resolve(); });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
  abandonLogs(logger);
}

/** From now on the exit path never writes to stdout (what is still buffered is dropped). */
export function abandonLogs(logger: Logger): void {
  const sink = sinks.get(logger);
  if (sink) sink.flushSync = () => {};
}
