import type { SignInSession } from '../sessions/service.js';
import { optional, positional } from './arguments.js';
import type { CliCommand } from './commands.js';

function snakeSession(session: SignInSession) {
  return {
    session: session.sessionUid,
    account_id: session.accountId,
    signed_in_at: session.signedInAt.toISOString(),
    ip: session.ip,
    user_agent: session.userAgent,
    last_seen_at: session.lastSeenAt.toISOString(),
    expires_at: session.expiresAt.toISOString(),
  };
}

/** Sign-in sessions, through the same service as the console's Sessions pages. */
export const SESSION_COMMANDS: CliCommand[] = [
  {
    name: 'session list',
    usage: '[--user ID|USERNAME]',
    summary: 'list signed-in sessions (a user\'s, or everyone\'s, most recently active first)',
    flags: { user: { type: 'string', description: 'only this user\'s sessions' } },
    async run(services, _args, values) {
      const user = optional(values, 'user');
      if (user) return (await services.sessions.ofAccount((await services.accounts.named(user)).id)).map(snakeSession);
      return (await services.sessions.list({ page: 1, perPage: 1000 })).sessions.map(snakeSession);
    },
  },
  {
    name: 'session revoke',
    usage: 'SESSION',
    summary: 'sign a session out of Gatehouse (and revoke the grants made in it, as logout does)',
    flags: {},
    async run(services, args) {
      const session = await services.sessions.revoke(positional(args, 'a session (from session list)', 'session revoke'), { actor: 'cli' });
      return { revoked: session.sessionUid, account_id: session.accountId };
    },
  },
];
