// The static checks of `npm test` (docs/architecture.md "Tests"): typecheck, eslint, the layer
// rules and dead code, run side by side (each is mostly one core; the machines here have two),
// each one's output printed whole once it ends. Exit 1 when any of them fails.
import { spawn } from 'node:child_process';

const CHECKS = ['typecheck', 'lint', 'lint:deps', 'lint:dead'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const results = await Promise.all(
  CHECKS.map(
    (name) =>
      new Promise((resolve) => {
        const started = performance.now();
        const child = spawn(npm, ['run', '--silent', name], { stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('close', (code) => {
          const secs = ((performance.now() - started) / 1000).toFixed(1);
          process.stdout.write(`${code === 0 ? '✓' : '✗'} npm run ${name} (${secs} s)\n${out.trim() ? `${out.trimEnd()}\n` : ''}`);
          resolve(code === 0);
        });
      }),
  ),
);
process.exitCode = results.every(Boolean) ? 0 : 1;
