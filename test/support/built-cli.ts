import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestServer } from './server.js';

const run = promisify(execFile);

/**
 * The CLI of the build these tests were compiled into: found from this
 * file's own place (dist/test/support/ → dist/src/cli/main.js), not from
 * the working folder, so a build in another folder tests its own CLI.
 */
export const CLI_ENTRY = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult { code: number; stdout: string; stderr: string }

/** The environment that points the CLI at a test server's storage (its database, which may not be the environment's). */
export function cliEnvironment(server: TestServer, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GATEHOUSE_DATA_DIR: server.config.dataDir,
    DATABASE_URL: server.config.databaseUrl ?? '',
    REDIS_URL: server.config.redisUrl ?? '',
    REDIS_PREFIX: server.config.redisPrefix,
    ...extra,
  };
}

/** Runs the built CLI with `env`, `input` (when given) on its standard input; its exit code and output. */
export async function runCliIn(env: NodeJS.ProcessEnv, args: string[], input?: string): Promise<CliResult> {
  try {
    const pending = run(process.execPath, [CLI_ENTRY, ...args], { env });
    if (input !== undefined) pending.child.stdin!.end(input);
    const { stdout, stderr } = await pending;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Runs the built CLI as an operator would, against the test server's storage. */
export function runCli(server: TestServer, ...args: string[]): Promise<CliResult> {
  return runCliIn(cliEnvironment(server), args);
}

/** runCli with `input` written to the command's standard input. */
export function runCliWithInput(server: TestServer, input: string | undefined, ...args: string[]): Promise<CliResult> {
  return runCliIn(cliEnvironment(server), args, input);
}

/**
 * Runs the built CLI on a pseudo-terminal (util-linux `script`), as from an
 * operator's shell, and types `typed` once `waitFor` shows on the terminal
 * (or after ten seconds if it never does: the command loads the whole
 * application before it asks). `screen` is everything the
 * terminal showed: the command's output and whatever the terminal echoed.
 * Undefined when `script` is not installed.
 */
export async function runCliOnTerminal(env: NodeJS.ProcessEnv, args: string[], typed: string, waitFor: string): Promise<{ code: number; screen: string } | undefined> {
  const command = [process.execPath, CLI_ENTRY, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let sent = false;
  const type = () => {
    if (sent) return;
    sent = true;
    child.stdin.write(typed);
  };
  const fallback = setTimeout(type, 10_000);
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    // A moment after the prompt, as a person would: the command has set the terminal up by then.
    if (screen.includes(waitFor)) setTimeout(type, 100);
  });
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (exit) => resolve(exit ?? 1));
    });
    return { code, screen };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  } finally {
    clearTimeout(fallback);
    child.stdin.destroy();
  }
}
