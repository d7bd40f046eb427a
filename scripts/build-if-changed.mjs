#!/usr/bin/env node
// Compiles only when a source is newer than the last build, so `npm start` and
// `npm run cli` answer at once on an unchanged checkout (tsc, even
// incremental, spends seconds checking). Then makes the CLI executable (the
// package's `gatehouse` bin), which tsc does not.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// Written after each successful build (tsc leaves its own .tsbuildinfo alone when nothing changed).
const stamp = join(root, 'dist', '.built');
// What tsconfig.json compiles, and the configuration itself.
const SOURCES = ['src', 'adapters', 'config', 'test', 'bench'];

function newestIn(folder) {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestIn(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const newestSource = Math.max(
  statSync(join(root, 'tsconfig.json')).mtimeMs,
  statSync(join(root, 'package.json')).mtimeMs,
  ...SOURCES.filter((folder) => existsSync(join(root, folder))).map((folder) => newestIn(join(root, folder))),
);
if (newestSource > built) {
  process.stderr.write('gatehouse: compiling (sources changed since the last build)\n');
  const tsc = spawnSync('npx', ['--no-install', 'tsc', '-p', root], { stdio: 'inherit', cwd: root });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
chmodSync(join(root, 'dist', 'src', 'cli', 'main.js'), 0o755);
