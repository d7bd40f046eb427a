# syntax=docker/dockerfile:1
# Gatehouse: build with `docker build -t gatehouse .`; see docs/operations/deploying-with-containers.md.
# test/operations/packaging.test.ts checks that the command and the health check below are the
# ones the test suite runs, and that every path named here exists.

# --- build: compile TypeScript with the dev dependencies -------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script is the `node` dev dependency's, which would
# download a second Node 22 that this image already has.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY adapters ./adapters
COPY config ./config
RUN npm run build

# --- runtime: production dependencies and the compiled server only ---------------------------
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000 \
    GATEHOUSE_DATA_DIR=/var/lib/gatehouse
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/adapters ./dist/adapters
COPY --from=build /app/dist/config ./dist/config
COPY views ./views
COPY LICENSE NOTICE ./
# The embedded database (used when DATABASE_URL is unset) and its secrets.key live here.
RUN mkdir -p /var/lib/gatehouse && chown node:node /var/lib/gatehouse
VOLUME /var/lib/gatehouse
# The unprivileged user of the official Node images (uid 1000); the code stays root-owned.
USER node
EXPOSE 3000
# --experimental-async-context-frame: see SERVER_NODE_OPTIONS in src/supported-runtime.ts (less CPU
# per request on Node 22). Node itself is PID 1: no npm, no shell. It handles SIGTERM and SIGINT (a 10 s grace for
# requests in flight, 12 s with WEB_CONCURRENCY workers), so stop with at least 15 s:
# `docker stop -t 20`, or compose's stop_grace_period.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--experimental-async-context-frame", "dist/src/server.js"]
