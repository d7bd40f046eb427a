import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { settings } from '../config/defaults.js';

describe('README and docs', () => {
  const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
  const readme = read('README.md');

  it('documents every setting in docs/configuration.md, with the real default', () => {
    const table = read('docs/configuration.md');
    for (const setting of Object.values(settings)) {
      const row = table.split('\n').find((line) => line.startsWith(`| \`${setting.env}\``));
      expect(row, setting.env).to.be.a('string');
      if (setting.default !== undefined) expect(row, setting.env).to.include(`\`${String(setting.default)}\``);
    }
  });

  it('gives a newcomer the two commands', () => {
    expect(readme).to.include('npm ci && npm start');
    expect(readme).to.include('npm ci && npm test');
  });

  it('links only to files that exist, from the README and every page of docs/', () => {
    const pages = ['README.md', 'SECURITY.md', ...readdirSync(new URL('../../docs', import.meta.url), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
    for (const page of pages) {
      for (const [, target] of read(page).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const resolved = new URL(target!, new URL(`../../${page}`, import.meta.url));
        expect(existsSync(resolved), `${page} links to ${target}`).to.equal(true);
      }
    }
  });
});
