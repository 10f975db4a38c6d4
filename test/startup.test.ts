import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/cli.js';

// docs/design.md §7: every full-CLI run compiles dist/main.cjs; the build writes V8's code cache
// beside it (dist/main.cjs.cache, keyed to the bundle's last line) and src/bin.ts compileMain uses
// it only when the keys match.

/** What compileMain did with the cache in the dist/ at `root`: 'false' = accepted, 'undefined' = none handed to V8. */
function cacheVerdict(root: string): string {
  const probe = "const { script } = require(process.argv[1]).compileMain(); process.stdout.write(String(script.cachedDataRejected));";
  const res = spawnSync(process.execPath, ['-e', probe, join(root, 'dist', 'auth.cjs')], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  expect(res.status, res.stderr).toBe(0);
  return res.stdout;
}

function run(root: string, args: string[], home: string) {
  return spawnSync(process.execPath, [join(root, 'bin', 'auth.js'), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: home, AUTH_HOME: home, AUTH_STORAGE: 'file', NO_COLOR: '1', DBUS_SESSION_BUS_ADDRESS: 'disabled:' },
  });
}

describe('the full CLI starts from the code cache the build wrote', () => {
  it('this Node accepts the cache of this build', () => {
    const key = /\/\/# authcli-cache-key=([0-9a-f]{64})\n$/.exec(readFileSync(join(ROOT, 'dist', 'main.cjs'), 'utf8'))?.[1];
    expect(key).toBeDefined();
    expect(readFileSync(join(ROOT, 'dist', 'main.cjs.cache')).toString('latin1', 0, 64)).toBe(key);
    expect(cacheVerdict(ROOT)).toBe('false');
  });

  it('a cache of another build, or none, is never handed to V8: the CLI compiles the bundle and works the same', () => {
    const copy = mkdtempSync(join(tmpdir(), 'auth-startup-'));
    const home = mkdtempSync(join(tmpdir(), 'auth-startup-home-'));
    try {
      cpSync(join(ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
      cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
      const cacheFile = join(copy, 'dist', 'main.cjs.cache');
      const good = readFileSync(cacheFile);
      const expected = { version: run(ROOT, ['--version'], home), status: run(ROOT, ['status'], home) };
      expect(expected.version.status).toBe(0);

      const otherBuild = Buffer.from(good);
      otherBuild.write(good[0] === 0x30 ? '1' : '0', 0, 'latin1');
      for (const [what, write] of [
        ['a cache keyed to another build', () => writeFileSync(cacheFile, otherBuild)],
        ['an empty cache file', () => writeFileSync(cacheFile, '')],
        ['no cache file', () => rmSync(cacheFile)],
      ] as const) {
        write();
        expect(cacheVerdict(copy), what).toBe('undefined');
        for (const [args, want] of [[['--version'], expected.version], [['status'], expected.status]] as const) {
          const res = run(copy, [...args], home);
          expect({ code: res.status, stdout: res.stdout, stderr: res.stderr }, `${what}: auth ${args.join(' ')}`).toEqual({ code: want.status, stdout: want.stdout, stderr: want.stderr });
        }
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });
});
