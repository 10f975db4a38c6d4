#!/usr/bin/env node
// @ts-check
/**
 * `npm run demo`: sign in with the real CLI against a local sandbox provider.
 *
 * Starts `sandbox/provider.mjs` (oidc-provider on 127.0.0.1, any free port), then runs
 * `node bin/auth.js login --issuer <issuer> --client-id auth-cli` in this terminal with
 * `AUTH_HOME=<repo>/.demo-home`, then `auth status`. On a machine that cannot show a
 * browser it sets `AUTH_BROWSER` to the scripted browser (`sandbox/browser.mjs`) so the
 * demo still completes. With a TTY on stdin the sandbox keeps running afterwards so
 * `auth token` / `auth refresh` can be tried from another terminal; Ctrl-C stops it.
 *
 * Exit status: the login's exit status (0 when everything worked).
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandbox } from '../sandbox/provider.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(repo, 'bin', 'auth.js');
const scriptedBrowser = path.join(repo, 'sandbox', 'browser.mjs');
const demoHome = path.join(repo, '.demo-home');
const relHome = path.relative(process.cwd(), demoHome) || demoHome;
const relCli = path.relative(process.cwd(), cli) || cli;

/**
 * What Ctrl-C does right now (one SIGINT listener for the whole run, so there is never a
 * moment where the default handler would kill the demo and leave the child behind).
 * undefined = exit 130.
 * @type {(() => void) | undefined}
 */
let onInterrupt;
process.on('SIGINT', () => {
  if (onInterrupt) onInterrupt();
  else process.exit(130);
});

/** @param {string} [line] */
const say = (line = '') => process.stderr.write(`${line}\n`);

/**
 * Run the CLI in this terminal; resolves to its exit code (128+n for a signal).
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<number>}
 */
function runCli(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit', env });
    // Ctrl-C reaches the child through the terminal; let it clean up and report 130.
    onInterrupt = () => {};
    const done = (/** @type {number} */ code) => {
      onInterrupt = undefined;
      resolve(code);
    };
    child.on('error', (err) => {
      say(`demo: cannot run ${relCli}: ${err.message}`);
      done(1);
    });
    child.on('exit', (code, signal) => {
      done(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}

async function main() {
  if (!existsSync(cli)) {
    say(`demo: ${relCli} not found. Run \`npm install\` (or \`npm run build\`) first.`);
    return 1;
  }

  const sandbox = await startSandbox({ port: 0, deviceInterval: 2 });

  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, AUTH_HOME: demoHome };
  const noDisplay = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
  const overSsh = Boolean(process.env.SSH_CONNECTION || process.env.SSH_TTY);
  const browserChosen = Boolean(process.env.AUTH_BROWSER || process.env.BROWSER);
  const useScriptedBrowser = (noDisplay || overSsh) && !browserChosen;

  say('');
  say('auth demo');
  say('=========');
  say('A sandbox OpenID Connect provider (oidc-provider, in this process, for demos and tests');
  say('only) is running at:');
  say('');
  say(`  ${sandbox.issuer}`);
  say('');
  say('Sign in with any username (try alice) and any password.');
  say(`Credentials go to ${relHome}/ (AUTH_HOME), not to your own profile.`);
  say('');
  if (useScriptedBrowser) {
    say(noDisplay
      ? 'This machine cannot show a browser (no DISPLAY or WAYLAND_DISPLAY).'
      : 'This is an SSH session; a browser elsewhere cannot reach the sandbox on 127.0.0.1.');
    say('So the demo sets AUTH_BROWSER to the scripted browser (sandbox/browser.mjs), which fills');
    say('in the sandbox\'s sign-in and consent pages as "alice", and the login completes by itself.');
    say('To do it by hand instead, run `BROWSER=true npm run demo` and open the URL the CLI prints');
    say('in a browser on this machine.');
    say('');
    env.AUTH_BROWSER = scriptedBrowser;
  }
  say(`$ AUTH_HOME=${relHome} node ${relCli} login --issuer ${sandbox.issuer} --client-id auth-cli`);

  const loginCode = await runCli(['login', '--issuer', sandbox.issuer, '--client-id', 'auth-cli'], env);
  if (loginCode !== 0) {
    say('');
    say(`demo: login exited with status ${loginCode}.`);
    await sandbox.close();
    return loginCode;
  }

  say('');
  say(`$ AUTH_HOME=${relHome} node ${relCli} status`);
  await runCli(['status'], env);

  if (!process.stdin.isTTY) {
    await sandbox.close();
    return loginCode;
  }

  const stopped = new Promise((resolve) => { onInterrupt = () => resolve(undefined); });
  say('');
  say(`Sandbox still running at ${sandbox.issuer}; try \`AUTH_HOME=${relHome} node ${relCli} token\` in another terminal. Press Ctrl-C to stop.`);
  await stopped;
  say('');
  say('Stopping the sandbox.');
  await sandbox.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    say(`demo: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
