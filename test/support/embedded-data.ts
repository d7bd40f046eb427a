import { rmSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbedded } from '../../adapters/embedded/pglite.js';
import { tempDir } from './folders.js';

// PGlite makes a new database cluster (initdb, in WebAssembly) the first time
// it opens an empty folder: 8.7 s on a busy two-core machine, against 0.65 s
// to open one that exists, and most of an embedded test server's start. So a
// test's data folder starts from a copy of one cluster, made once per test
// process by Gatehouse's own opening code and closed cleanly (a copy of a
// stopped cluster is a cluster). Everything Gatehouse does in a folder
// (migrations, keys, the generated secrets key) still happens in each one;
// the first start of an empty folder is tested where it is the point
// (packaging, the CLI's first run).
let template: Promise<string> | undefined;

let templateDir: string | undefined;

async function makeTemplate(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-template-'));
  templateDir = dir;
  process.once('exit', removeTemplate);
  const db = await openEmbedded(dir, 'owner');
  await db.close();
  return join(dir, 'pgdata');
}

/** Removes the template (the suite's last hook, and at exit). */
export function removeTemplate(): void {
  if (templateDir) rmSync(templateDir, { recursive: true, force: true });
  templateDir = undefined;
  template = undefined;
}

/** A new data folder (GATEHOUSE_DATA_DIR) holding an empty embedded database cluster. */
export async function embeddedDataDir(prefix = 'gh-'): Promise<string> {
  // A template that could not be made is tried again by the next caller.
  template ??= makeTemplate().catch((error: unknown) => { removeTemplate(); throw error; });
  const dir = await tempDir(prefix);
  try {
    await cp(await template, join(dir, 'pgdata'), { recursive: true });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return dir;
}
