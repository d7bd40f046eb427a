import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestServer } from './server.js';

const run = promisify(execFile);

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs the built CLI as an operator would, against the test server's storage. */
export function runCli(server: TestServer, ...args: string[]): Promise<CliResult> {
  return runCliWithInput(server, undefined, ...args);
}

/** runCli with `input` written to the command's standard input. */
export async function runCliWithInput(server: TestServer, input: string | undefined, ...args: string[]): Promise<CliResult> {
  const env = {
    ...process.env,
    GATEHOUSE_DATA_DIR: server.config.dataDir,
    DATABASE_URL: process.env.DATABASE_URL ?? '',
    REDIS_URL: process.env.REDIS_URL ?? '',
  };
  try {
    const pending = run(process.execPath, ['dist/src/cli/main.js', ...args], { env });
    if (input !== undefined) pending.child.stdin!.end(input);
    const { stdout, stderr } = await pending;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
