/** Where a batch goes: pino's destination (sonic-boom), which writes asynchronously. */
export interface LineSink {
  write(chunk: string): unknown;
  /** sonic-boom starts a write once it holds this many characters; below it, what it is given waits in its buffer. */
  minLength: number;
  flush(cb?: (error?: Error) => void): void;
  flushSync(): void;
}

/**
 * Log lines gathered in an array and handed to the sink as one string per
 * batch (about `batchLength` characters). sonic-boom 4.2.1 can buffer by
 * itself (minLength), but it appends each line to the pending string and
 * measures that whole string's byte length on every write: the pending
 * buffer is copied once per line, the largest allocation of a request's log
 * line (heap profile of the token endpoint). Joining an array once per batch
 * copies each line once.
 *
 * Whoever owns the batch hands it over on a timer and writes it out before
 * exit (logger.ts); pino calls `write`, and `flush` for logger.flush().
 */
export class LineBatch {
  private lines: string[] = [];
  private length = 0;

  constructor(private readonly sink: LineSink, private readonly batchLength: number) {}

  write(line: string): void {
    this.lines.push(line);
    this.length += line.length;
    if (this.length >= this.batchLength) this.handOver();
  }

  /** Passes every gathered line to the sink now (which writes it asynchronously). */
  handOver(): void {
    if (this.lines.length === 0) return;
    const chunk = this.lines.join('');
    this.lines = [];
    this.length = 0;
    this.sink.write(chunk);
  }

  flush(cb?: (error?: Error) => void): void {
    this.handOver();
    this.sink.flush(cb);
  }

  /**
   * Writes every gathered line, and all the sink holds, before returning:
   * the exit path, where an asynchronous write would never finish. The lines
   * are handed over into the sink's buffer only (an asynchronous write of
   * them would be skipped by its synchronous flush), then flushed with it.
   */
  flushSync(): void {
    const { minLength } = this.sink;
    this.sink.minLength = Number.MAX_SAFE_INTEGER;
    try {
      this.handOver();
    } finally {
      this.sink.minLength = minLength;
    }
    this.sink.flushSync();
  }
}
