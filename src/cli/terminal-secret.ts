import { UsageError } from './arguments.js';

const ENTER = new Set(['\r', '\n']);
const ERASE = new Set(['\u007f', '\b']);
const INTERRUPT = '\u0003';
const END_OF_INPUT = '\u0004';

/**
 * A secret typed at the terminal: the prompt on stderr (stdout may be piped
 * into a file or `jq`), the keys not echoed, as `sudo` and `ssh` do, so the
 * secret is neither on the screen nor in the terminal's scroll-back.
 * Raw mode turns the terminal's echo off and hands over each key: Enter or
 * Ctrl-D ends the line, Backspace takes the last character back, Ctrl-C
 * stops the command as it would anywhere else (raw mode delivers it as a
 * key, not a signal, so it is raised again once the terminal is restored).
 * Called before anything is opened, so there is nothing to close first.
 */
export function secretFromTerminal(stdin: NodeJS.ReadStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let typed = '';
    const restore = () => {
      stdin.off('data', onKeys);
      stdin.off('end', onEnd);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onKeys = (chunk: Buffer | string) => {
      // An arrow or function key: one escape sequence a chunk, no part of a secret.
      if (String(chunk).startsWith('\u001b')) return;
      for (const key of String(chunk)) {
        if (key === INTERRUPT) {
          restore();
          process.kill(process.pid, 'SIGINT');
          return;
        }
        if (ENTER.has(key) || key === END_OF_INPUT) {
          restore();
          resolve(typed);
          return;
        }
        if (ERASE.has(key)) typed = [...typed].slice(0, -1).join('');
        else if (key >= ' ') typed += key;
      }
    };
    const onEnd = () => {
      restore();
      reject(new UsageError('standard input ended before the secret was typed'));
    };
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onKeys);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}
