/** Where a batch goes: pino's destination (sonic-boom), which writes asynchronously. */
export interface LineSink {
  write(chunk: string): unknown;
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
 * Whoever owns the batch hands it over on a timer and before exit (logger.ts);
 * pino only ever sees `write`.
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

  /** Passes every gathered line to the sink now. */
  handOver(): void {
    if (this.lines.length === 0) return;
    const chunk = this.lines.join('');
    this.lines = [];
    this.length = 0;
    this.sink.write(chunk);
  }
}
