import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/provider.mjs';
import { baseEnv, BIN, errorLine, makeHome, ROOT, runCli, spawnCli, waitForStderr } from './support/cli.js';

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
      for (const m of text.matchAll(/\b(?:require(?:\.resolve)?|import)\(\s*"([^".][^"]*)"\s*\)/g)) {
        const name = m[1]!.startsWith('@') ? m[1]!.split('/').slice(0, 2).join('/') : m[1]!.split('/')[0]!;
        if (!name.startsWith('node:') && !builtinModules.includes(name)) loaded.add(name);
      }
    }
    expect([...loaded].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });
});

// A desktop whose xdg-open tries a browser that fails only after a while (here: 3 s, later than
// the launch check's first look): in `auto` mode the sign-in moves to the device flow as soon as
// the launcher gives up, instead of waiting out the loopback timeout.
describe.skipIf(process.platform !== 'linux')('xdg-open giving up late', () => {
  const { home, cleanup } = makeHome('auth-papercuts-xdg-');
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  const bin = join(home, 'xbin');
  beforeAll(async () => {
    sandbox = await startSandbox({});
    mkdirSync(bin);
    // Only the tools xdg-open needs, and one "browser" that fails after 3 s (no chromium, no firefox).
    for (const tool of ['sh', 'sed', 'grep', 'which', 'readlink', 'dirname', 'basename', 'cat', 'env', 'tr', 'head', 'cut', 'mkdir', 'ls', 'printf', 'echo', 'test', 'expr', 'sleep', 'uname', 'id', 'awk']) {
      const path = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      if (path.startsWith('/')) symlinkSync(path, join(bin, tool));
    }
    writeFileSync(join(bin, 'x-www-browser'), '#!/bin/sh\nsleep 3\necho "x-www-browser: cannot open display" >&2\nexit 1\n', { mode: 0o755 });
  });
  afterAll(async () => {
    await sandbox?.close();
    cleanup();
  });

  it('auto mode: the device flow takes over when the launcher exits with a failure, long before the loopback timeout', async () => {
    const child = spawnCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli', '--timeout', '600', '--no-qr'], {
      home,
      env: { PATH: bin, DISPLAY: ':99', AUTH_BROWSER: undefined, BROWSER: undefined },
    });
    try {
      await waitForStderr(child, /Could not open a browser \(.*launcher exited with code \d+.*\); switching to the device flow/, 120_000);
      await waitForStderr(child, /To sign in, open \S+\/device and enter the code: /, 60_000);
    } finally {
      child.kill('SIGINT');
    }
    const res = await child.result;
    expect(res.code).toBe(130);
    expect(res.stdout).toBe('');
  });
});
