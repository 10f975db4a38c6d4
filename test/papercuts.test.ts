import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { baseEnv, BIN, errorLine, makeHome, runCli } from './support/cli.js';

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
