/** Told how an import advances, table by table. */
export interface Progress {
  start(table: string, total: number): void;
  advance(rows: number): void;
  finish(): void;
}

export const NO_PROGRESS: Progress = { start() {}, advance() {}, finish() {} };

const WIDTH = 30;
const number = (n: number) => n.toLocaleString('en-US');

/**
 * A bar per table with counts and rate, redrawn in place on `stream`; only
 * on a terminal (a log or a pipe gets nothing, and --json's stdout is never used).
 */
export function terminalProgress(stream: NodeJS.WriteStream): Progress {
  if (!stream.isTTY) return NO_PROGRESS;
  let table = '';
  let total = 0;
  let done = 0;
  let startedAt = 0;
  let drawnAt = 0;
  const draw = (final: boolean) => {
    const now = Date.now();
    if (!final && now - drawnAt < 100) return;
    drawnAt = now;
    const filled = total ? Math.min(WIDTH, Math.round((done / total) * WIDTH)) : WIDTH;
    const rate = Math.round(done / Math.max(0.001, (now - startedAt) / 1000));
    stream.write(`\r${table.padEnd(15)} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${number(done)}/${number(total)}  ${number(rate)} rows/s\x1b[K${final ? '\n' : ''}`);
  };
  return {
    start(name, rows) {
      table = name;
      total = rows;
      done = 0;
      startedAt = Date.now();
      draw(false);
    },
    advance(rows) {
      done += rows;
      draw(false);
    },
    finish() {
      draw(true);
    },
  };
}
