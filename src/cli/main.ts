#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { storagePresence } from '../../adapters/presence.js';
import { EmbeddedDatabaseBusyError, StorageUnavailableError } from '../../adapters/factory.js';
import { SecretsKeyError } from '../../adapters/secrets-at-rest.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { AppError } from '../errors/app-error.js';
import { appErrorBody } from '../errors/rfc6749.js';
import { composeServices, type Services } from '../main.js';
import { UsageError, type Values } from './arguments.js';
import { commandFlags, commandHelp, COMMANDS, commandUsage, findCommand } from './commands.js';
import { closest } from './suggestions.js';

const USAGE = `Usage: gatehouse <command> [options]   (npm run cli -- <command> …)

Commands:
${commandUsage()}

Every command accepts --json for machine-readable output and --help for its options.
Only migrate, or a command given --init, creates storage that does not exist yet.
Configuration comes from the environment (DATABASE_URL, GATEHOUSE_DATA_DIR, …), as for the server.`;

const GLOBAL_FLAGS = {
  json: { type: 'boolean' },
  init: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

function print(json: boolean, value: unknown): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const rows = Array.isArray(value) ? value : [value];
  for (const row of rows) {
    for (const [key, field] of Object.entries(row as Record<string, unknown>)) {
      process.stdout.write(`${key}: ${Array.isArray(field) ? field.join(' ') : String(field)}\n`);
    }
    if (rows.length > 1) process.stdout.write('\n');
  }
}

/** parseArgs's complaint about a flag, with the nearest flag it knows when one is close. */
function flagProblem(error: Error): string {
  const unknown = /Unknown option '(--?[^']+)'/.exec(error.message)?.[1];
  if (!unknown) return error.message;
  const known = Object.keys({ ...commandFlags(), ...GLOBAL_FLAGS }).map((name) => `--${name}`);
  const suggestion = closest(unknown, known);
  return `unknown option ${unknown}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`;
}

/** The command the words name, or a usage error that suggests the nearest one. */
function commandOf(words: string[]) {
  const found = findCommand(words);
  if (found) return found;
  if (!words.length) throw new UsageError('no command given');
  const names = COMMANDS.map((command) => command.name);
  const typed = words.slice(0, 2).join(' ');
  const suggestion = closest(typed, names) ?? closest(words[0]!, names.map((name) => name.split(' ')[0]!));
  throw new UsageError(`unknown command: ${words.join(' ')}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
}

async function main(argv: string[]): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { ...commandFlags(), ...GLOBAL_FLAGS } }) as typeof parsed;
  } catch (error) {
    process.stderr.write(`gatehouse: ${flagProblem(error as Error)}\n(gatehouse --help lists the commands; gatehouse <command> --help its options)\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (!positionals.length) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }

  let services: Services | undefined;
  try {
    const { command, args } = commandOf(positionals);
    if (values.help) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return 0;
    }
    // A flag another command takes is a mistake here, not something to ignore silently.
    const own = new Set([...Object.keys(command.flags), ...Object.keys(GLOBAL_FLAGS)]);
    const stray = Object.keys(values).filter((name) => !own.has(name) && values[name] !== undefined);
    if (stray.length) throw new UsageError(`${command.name} takes no --${stray[0]} (gatehouse ${command.name} --help lists its options)`, false);
    const config = loadConfig();
    // Only `migrate` or --init may create storage: anything else on a store
    // that does not exist is a mistyped GATEHOUSE_DATA_DIR or a forgotten
    // DATABASE_URL, and what it wrote would be where the server never looks.
    if (command.name !== 'migrate' && values.init !== true) {
      const { exists, where } = await storagePresence(config);
      if (!exists) throw new UsageError(`no Gatehouse storage in ${where}. Check the setting (the server's own value), or pass --init to create it there.`, false);
    }
    services = await composeServices(config, 'guest');
    print(values.json === true, await command.run(services, args, values));
    return 0;
  } catch (error) {
    if (values.json && error instanceof AppError) {
      process.stderr.write(`${JSON.stringify(appErrorBody(error))}\n`);
      return 1;
    }
    if (error instanceof UsageError) {
      process.stderr.write(error.showUsage ? `gatehouse: ${error.message}\n\n${USAGE}\n` : `gatehouse: ${error.message}\n`);
      return 2;
    }
    if ([AppError, ConfigError, StorageUnavailableError, EmbeddedDatabaseBusyError, SecretsKeyError].some((kind) => error instanceof kind)) {
      process.stderr.write(`gatehouse: ${error instanceof StorageUnavailableError ? error.detail : (error as Error).message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await services?.storage.close();
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`gatehouse: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
