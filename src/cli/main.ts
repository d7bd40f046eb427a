#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AppError } from '../errors/app-error.js';
import { appErrorBody } from '../errors/rfc6749.js';
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

  let application: typeof import('./execute.js') | undefined;
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
    // Everything above answers from the command table alone; the application
    // loads only now, for a command that runs (execute.ts).
    application = await import('./execute.js');
    await application.execute(command, args, values);
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
    // Only the application throws what an operator can act on, so it is loaded by then.
    const problem = application?.operatorProblem(error);
    if (problem !== undefined) {
      process.stderr.write(`gatehouse: ${problem}\n`);
      return 1;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`gatehouse: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
