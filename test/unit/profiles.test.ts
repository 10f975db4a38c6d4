import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { listProfiles, useProfile } from '../../src/app/profiles.js';
import { fakeDeps } from './fake-deps.js';

// The profiles use cases (src/app/profiles.ts) against a config.yaml in a temp AUTH_HOME.

function withConfig(text: string) {
  const fake = fakeDeps({});
  mkdirSync(dirname(fake.deps.paths.configFile), { recursive: true, mode: 0o700 });
  writeFileSync(fake.deps.paths.configFile, text, { mode: 0o600 });
  return fake;
}

describe('profiles', () => {
  it('lists every profile with its provider kind; the active one marked', () => {
    const { deps } = withConfig('active: work\nprofiles:\n  work: { issuer: "https://id.example.com", clientId: cli }\n  gh: { provider: github, issuer: "https://github.com", clientId: x, storage: file }\n');
    const { active, activeConfigured, rows } = listProfiles(deps);
    expect({ active, activeConfigured }).toEqual({ active: 'work', activeConfigured: true });
    expect(rows).toEqual([
      { name: 'work', active: true, provider: 'oidc', issuer: 'https://id.example.com', clientId: 'cli', flow: 'auto', storage: 'file' },
      { name: 'gh', active: false, provider: 'github', issuer: 'https://github.com', clientId: 'x', flow: 'auto', storage: 'file' },
    ]);
  });

  it('use: sets the active profile; an unknown or invalid name is refused and nothing changes', () => {
    const { deps } = withConfig('profiles:\n  a: { issuer: "https://a.example.com", clientId: x }\n');
    useProfile('a', deps);
    expect(readFileSync(deps.paths.configFile, 'utf8')).toMatch(/^active: a$/m);
    const before = readFileSync(deps.paths.configFile, 'utf8');
    expect(() => useProfile('nope', deps)).toThrow(/no profile named nope/);
    expect(() => useProfile('../x', deps)).toThrow(/Invalid profile name/);
    expect(readFileSync(deps.paths.configFile, 'utf8')).toBe(before);
  });
});
