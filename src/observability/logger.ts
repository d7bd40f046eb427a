import { pino, type Logger, type LoggerOptions } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { serializeError } from './error-fields.js';
import { LineBatch, type LineSink } from './line-batch.js';

export type { Logger };

/** LOG_FORMAT, or when it is unset: readable lines for a person at a terminal, JSON for everything else. */
export function logFormat(configured: 'json' | 'pretty' | undefined): 'json' | 'pretty' {
  return configured ?? (process.stdout.isTTY ? 'pretty' : 'json');
}

let secondStarted = 0;
let secondPrefix = '';

/**
 * pino's `,"time":"<ISO 8601>"` (what pino.stdTimeFunctions.isoTime writes),
 * with the date and time up to the second formatted once a second rather
 * than by Date#toISOString on every line (a tenth of the request log line's
 * cost, profiled).
 */
export function isoTime(now = Date.now()): string {
  if (now - secondStarted >= 1000 || now < secondStarted) {
    secondStarted = now - (now % 1000);
    secondPrefix = `,"time":"${new Date(secondStarted).toISOString().slice(0, 20)}`;
  }
  return `${secondPrefix}${String(now - secondStarted).padStart(3, '0')}Z"`;
}

type Sink = ReturnType<typeof pino.destination>;

// Lines reach stdout at least this often on a quiet server (`tail -f`, a first start).
const FLUSH_EVERY_MS = 1000;
// Characters per write(2): a dozen request lines instead of a write per request.
const BATCH_LENGTH = 4096;
const outputs = new WeakMap<Logger, { sink: Sink; batch: LineBatch }>();

// When the loop runs dry, open batches are handed over while writes can
// still finish; at exit nothing asynchronous finishes, so every open batch
// is written out synchronously with what its sink still holds (after
// abandonLogs the sink's flushSync does nothing, so nothing is). Batches are
// held weakly: a logger that is gone takes its batch and timer with it.
const openBatches = new Set<WeakRef<LineBatch>>();
let exitHooked = false;
function writeOutAtExit(batch: LineBatch): WeakRef<LineBatch> {
  if (!exitHooked) {
    exitHooked = true;
    const each = (act: (batch: LineBatch) => void) => () => {
      for (const ref of openBatches) {
        const batch = ref.deref();
        try { if (batch) act(batch); } catch { /* the sink is gone: nothing can be written */ }
      }
    };
    // With the event loop still running, before pino's own hook ends the sink.
    process.prependListener('beforeExit', each((batch) => batch.handOver()));
    process.prependListener('exit', each((batch) => batch.flushSync()));
  }
  const ref = new WeakRef(batch);
  openBatches.add(ref);
  return ref;
}

/**
 * The process logger: JSON lines on stdout. Nothing that could carry a secret
 * (bodies, query strings, headers) is ever passed to it, which a test checks
 * by searching a full flow's trace-level log for every secret it used; a
 * redaction pass on every line would cost more than it protects. Errors are
 * the exception to "never passed": a driver's error carries the command or
 * query that failed, so every logger writes errors through an allow-list
 * (error-fields.ts) instead of pino's copy of all their properties.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: 'json' | 'pretty' = 'json'): Logger {
  // ISO times in JSON lines: readable by people and parsed by every log pipeline.
  // `err` is pino's error key: a logged Error (`{err}` or an Error passed first) goes through it.
  const options: LoggerOptions = { level, base: { service: 'gatehouse' }, timestamp: isoTime, serializers: { err: serializeError } };
  if (destination) return pino(options, destination as pino.DestinationStream);
  if (format === 'pretty') {
    // For a person at a terminal: one readable line per event, written at once.
    return pino(options, PinoPretty({ colorize: Boolean(process.stdout.isTTY), translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service', destination: 1, sync: true }));
  }
  // stdout in batches of lines (line-batch.ts): one write per dozen lines
  // instead of a write(2) per request (a tenth of the token endpoint's CPU,
  // profiled), handed over at least every second.
  // minLength 1, not 0: each batch is written at once either way, but
  // sonic-boom's flush() returns without waiting when minLength is 0.
  const sink = pino.destination({ dest: 1, sync: false, minLength: 1 });
  const batch = new LineBatch(sink as unknown as LineSink, BATCH_LENGTH);
  const ref = writeOutAtExit(batch);
  const timer = setInterval(() => {
    const live = ref.deref();
    if (!live) {
      clearInterval(timer);
      openBatches.delete(ref);
      return;
    }
    try { live.handOver(); } catch { /* destroyed or not ready: nothing to write */ }
  }, FLUSH_EVERY_MS).unref();
  const logger = pino(options, batch as unknown as pino.DestinationStream);
  outputs.set(logger, { sink, batch });
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
  const output = outputs.get(logger);
  if (!output) return;
  const { sink, batch } = output;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, withinMs);
    try {
      batch.handOver();
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
  const output = outputs.get(logger);
  if (output) output.sink.flushSync = () => {};
}
