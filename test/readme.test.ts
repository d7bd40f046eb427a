import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { settings } from '../config/defaults.js';

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('documents every setting in its configuration table, with the real default', () => {
    for (const setting of Object.values(settings)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${setting.env}\``));
      expect(row, setting.env).to.be.a('string');
      if (setting.default !== undefined) expect(row, setting.env).to.include(`\`${String(setting.default)}\``);
    }
  });

  it('gives a newcomer the two commands', () => {
    expect(readme).to.include('npm ci && npm start');
    expect(readme).to.include('npm ci && npm test');
  });
});
