/**
 * The entry points' first import (server.ts, cli/main.ts). ES modules
 * evaluate their imports before their own body, in order, so the check runs
 * here, before oidc-provider loads: an older Node.js then hears only
 * Gatehouse's reason, not oidc-provider's "Unsupported runtime" warning first.
 */
import { refuseUnsupportedRuntime } from './supported-runtime.js';

refuseUnsupportedRuntime();
