import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Every folder a test makes through these helpers, and the test file that
// made it: the suite's last hook (environment.ts) fails on any still there,
// naming the file, so a test that forgets its clean-up is found at once.
const made = new Map<string, string>();

/** The test file (not a support module) in the current stack. */
function testFileInStack(): string {
  const frames = new Error().stack?.split('\n') ?? [];
  const frame = frames.find((line) => line.includes('/dist/test/') && !line.includes('/dist/test/support/'));
  return /dist\/test\/([^:)]+)/.exec(frame ?? '')?.[1] ?? 'a support module';
}

/** A new empty folder under the system's temporary directory, which the test must remove. */
export async function tempDir(prefix = 'gh-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.set(dir, testFileInStack());
  return dir;
}

/** Folders made by `tempDir` that still exist, each with the test file that made it. */
export function foldersLeftBehind(): string[] {
  return [...made].filter(([dir]) => existsSync(dir)).map(([dir, file]) => `${dir} (${file})`);
}
