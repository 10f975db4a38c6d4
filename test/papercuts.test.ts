import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, BIN, errorLine, makeHome, ROOT, runCli } from './support/cli.js';

// Small things a newcomer hits in the first minutes, each with its fix (README "Troubleshooting").

describe('first-run papercuts', () => {
  const { home, cleanup } = makeHome('auth-papercuts-');
  afterAll(cleanup);

  it('--port outside 0–65535 is a usage error (exit 2) naming the range, before any network', async () => {
    const res = await runCli(['login', '--issuer', 'https://login.example.com', '--client-id', 'x', '--port', '70000'], { home });
    expect(res.code).toBe(2);
    expect(errorLine(res.stderr)).toMatch(/--port must be a port number from 0 to 65535/);
  });

  it.skipIf(!existsSync('/dev/full'))('output to a full device: one error line and exit 1, no crash or stack trace', () => {
    for (const args of [['status', '--json'], ['profiles', '--json'], ['--help']]) {
      const res = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" ${args.join(' ')} > /dev/full`], { env: baseEnv(home), encoding: 'utf8' });
      expect(res.status, `${args.join(' ')}: ${res.stderr}`).toBe(1);
      expect(res.stderr).toContain('error: could not write the output (ENOSPC).');
      expect(res.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('an issuer that differs from the provider\'s only by a trailing slash', () => {
  const { home, cleanup } = makeHome('auth-papercuts-slash-');
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  beforeAll(async () => {
    sandbox = await startSandbox({});
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('is refused (exit 1, R01 compares exactly) with a hint giving the exact value to use, which then works', async () => {
    const res = await runCli(['login', '--issuer', `${sandbox.issuer}/`, '--client-id', 'auth-cli'], { home });
    expect(res.code).toBe(1);
    expect(errorLine(res.stderr)).toMatch(/returned metadata for a different issuer/);
    expect(res.stderr).toContain(`The provider's issuer is ${sandbox.issuer} (without the trailing slash); use exactly that: \`auth login --issuer ${sandbox.issuer}\``);
    const ok = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], { home });
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('--json is documented only where it works', () => {
  const { home, cleanup } = makeHome('auth-papercuts-json-');
  afterAll(cleanup);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('every `auth … --json` in the README is accepted by that command; the options table for every command does not list it', async () => {
    const documented = new Set([...readme.matchAll(/`auth ((?:mfa |agent )?[a-z-]+)[^`\n]*--json/g)].map((m) => m[1]!));
    expect([...documented].sort()).toEqual(['mfa list', 'mfa status', 'profiles', 'status']);
    for (const command of documented) {
      const help = await runCli([...command.split(' '), '--help'], { home });
      expect(help.stdout, command).toContain('--json');
    }
    const table = readme.slice(readme.indexOf('Options that work on every command'), readme.indexOf('`--json` (machine-readable output)'));
    expect(table).not.toContain('--json');
    for (const command of [['token'], ['login'], ['logout'], ['refresh']]) {
      const res = await runCli([...command, '--json'], { home });
      expect(res.code, command.join(' ')).toBe(2);
      expect(errorLine(res.stderr)).toMatch(/unknown option '--json'/);
    }
  });
});

describe('npm i -g installs only what the bundle needs', () => {
  it('the runtime dependencies are exactly the packages dist/ loads at run time (the rest is bundled)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const loaded = new Set<string>();
    const dist = join(ROOT, 'dist');
    for (const file of ['auth.cjs', 'main.cjs', ...readdirSync(join(dist, 'vendor')).map((f) => join('vendor', f))]) {
      const text = readFileSync(join(dist, file), 'utf8');
      for (const m of text.matchAll(/\b(?:require|import)\(\s*"([^".][^"]*)"\s*\)/g)) {
        const name = m[1]!.startsWith('@') ? m[1]!.split('/').slice(0, 2).join('/') : m[1]!.split('/')[0]!;
        if (!name.startsWith('node:') && !builtinModules.includes(name)) loaded.add(name);
      }
    }
    expect([...loaded].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });
});
