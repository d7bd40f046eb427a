import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout. Paths that could carry a secret
 * are redacted as a second line of defence; the first is never to log them.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({
    level,
    base: { service: 'gatehouse' },
    redact: {
      paths: ['*.authorization', '*.password', '*.client_secret', '*.code', '*.refresh_token', '*.access_token', '*.token'],
      censor: '[redacted]',
    },
  }, destination as pino.DestinationStream | undefined);
}
