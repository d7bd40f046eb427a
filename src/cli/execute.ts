import { storagePresence } from '../../adapters/presence.js';
import { EmbeddedDatabaseBusyError, ForeignDataFolderError, StorageUnavailableError } from '../../adapters/factory.js';
import { SecretsKeyError } from '../../adapters/secrets-at-rest.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { composeServices, type Services } from '../main.js';
import { createLogger } from '../observability/logger.js';
import { UsageError, type Values } from './arguments.js';
import type { CliCommand } from './commands.js';
import { plainText } from './plain-text.js';
import { secretFromTerminal } from './terminal-secret.js';

/**
 * A command that runs: the configuration, the storage, the services, then
 * the command and its output. main.ts imports this module only once the
 * command line is understood, so that `--help`, `--version` and usage errors
 * never load the application (the engine, the storage drivers, the
 * templates: half a second of CPU, 1,000 modules).
 */

function print(json: boolean, value: unknown): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : plainText(value));
}

/** The first line of standard input, without its line ending. */
async function firstLineOfStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/**
 * Secret flags given as `-` take their value from standard input (see
 * CliFlag.secret): typed at a prompt, unseen, on a terminal; the first line
 * of what is piped in otherwise.
 */
async function withSecretsFromStdin(command: CliCommand, values: Values): Promise<Values> {
  const fromStdin = Object.entries(command.flags).filter(([name, flag]) => flag.secret && values[name] === '-').map(([name]) => name);
  if (fromStdin.length > 1) throw new UsageError(`only one of --${fromStdin.join(', --')} can be read from standard input`);
  if (!fromStdin.length) return values;
  const value = process.stdin.isTTY ? await secretFromTerminal(process.stdin, `${fromStdin[0]!} (not shown as you type): `) : await firstLineOfStdin();
  if (!value) throw new UsageError(`--${fromStdin[0]!} - found nothing on standard input`);
  return { ...values, [fromStdin[0]!]: value };
}

/** Runs the command against the configured storage and prints what it returns. */
export async function execute(command: CliCommand, args: string[], given: Values): Promise<void> {
  const values = await withSecretsFromStdin(command, given);
  const config = loadConfig();
  // Only `migrate` or --init may create storage: anything else on a store
  // that does not exist is a mistyped GATEHOUSE_DATA_DIR or a forgotten
  // DATABASE_URL, and what it wrote would be where the server never looks.
  // A refusal about the configuration (exit 1, docs/cli.md), not a usage
  // error: the command line itself was right.
  if (command.name !== 'migrate' && values.init !== true) {
    const { exists, where } = await storagePresence(config);
    if (!exists) throw new ConfigError(`no Gatehouse storage in ${where}. Check the setting (the server's own value), or pass --init to create it there.`);
  }
  let services: Services | undefined;
  try {
    // Warnings (a SECRETS_KEY generated into the data folder, which must be
    // backed up; a lost Redis) on standard error, as JSON lines like the server's.
    services = await composeServices(config, 'guest', createLogger('warn', process.stderr));
    print(values.json === true, await command.run(services, args, values));
  } finally {
    await services?.storage.close();
  }
}

/** A failure the operator can act on: its error code (as --json shows it) and what to tell them. */
export interface OperatorProblem { code: string; message: string }

/**
 * What to tell the operator of a failure with the configuration or the
 * storage (SECRETS_KEY included), or undefined for a fault. (A refused
 * request is an AppError, which main.ts maps itself: it loads without the
 * application.)
 */
export function operatorProblem(error: unknown): OperatorProblem | undefined {
  if (error instanceof StorageUnavailableError) return { code: 'storage_unavailable', message: error.detail };
  if (error instanceof EmbeddedDatabaseBusyError) return { code: 'storage_unavailable', message: error.message };
  if (error instanceof SecretsKeyError) return { code: 'invalid_secrets_key', message: error.message };
  if (error instanceof ConfigError || error instanceof ForeignDataFolderError) return { code: 'invalid_configuration', message: error.message };
  return undefined;
}
