import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, makeHome, ROOT, runCli } from './support/cli.js';
import { requireSystem } from './support/system.js';

// docs/design.md §2 `auth completion bash|zsh|fish`: generated from the command tree;
// the committed copies under completions/ must match what the code generates.
const FILES = { bash: 'auth.bash', zsh: '_auth', fish: 'auth.fish' } as const;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

describe('shell completion', () => {
  const { home, cleanup } = makeHome('auth-completion-');
  const bin = join(home, 'bin');
  const scripts: Record<string, string> = {};
  // The scripts call `auth __complete-profiles`; put an `auth` on PATH that runs the built CLI.
  const env = () => ({ PATH: `${bin}:${process.env.PATH}`, AUTH_HOME: home, HOME: home });

  beforeAll(async () => {
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'auth'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(bin, 'auth'), 0o755);
    writeFileSync(join(home, 'config.yaml'), 'active: work\nprofiles:\n  work:\n    issuer: https://login.example.com\n    clientId: cli\n  personal:\n    issuer: https://accounts.example.org\n    clientId: cli\n', { mode: 0o600 });
    for (const shell of Object.keys(FILES)) {
      const res = await runCli(['completion', shell], { home });
      expect(res.code, res.stderr).toBe(0);
      scripts[shell] = res.stdout;
    }
  });
  afterAll(() => cleanup());

  for (const [shell, file] of Object.entries(FILES)) {
    it(`completions/${file} is what \`auth completion ${shell}\` generates (run \`npm run build && npm run completions\` after changing commands)`, () => {
      const committed = readFileSync(join(ROOT, 'completions', file), 'utf8');
      expect(committed, `completions/${file} is out of date: run \`npm run build && npm run completions\` and commit the result`).toBe(scripts[shell]);
    });
  }

  it('every command and option in `auth --help` and each command\'s help is in the scripts', async () => {
    const help = (await runCli(['--help'], { home })).stdout;
    const section = help.slice(help.indexOf('Commands:')).split('\n\n')[0]!;
    const commands = [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['login', 'status', 'token', 'exec', 'completion']));
    for (const cmd of commands) {
      expect(scripts.bash).toMatch(new RegExp(`^    '' *\\) echo '[^']*\\b${cmd}\\b`, 'm'));
      const own = (await runCli([cmd, '--help'], { home })).stdout;
      for (const [, flag] of own.matchAll(/(?:^|\s)(--[a-z][a-z-]*)/gm)) expect(scripts.bash, `${cmd} ${flag}`).toContain(flag!);
    }
    expect(scripts.bash).not.toContain('__complete-profiles\'');
    expect(help).not.toContain('__complete-profiles');
  });

  it('`auth __complete-profiles` lists the profiles of config.yaml, one per line (hidden from help)', async () => {
    const res = await runCli(['__complete-profiles'], { home });
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('work\npersonal\n');
  });

  it("the README's install lines work in a fresh home (they create the directories they write to)", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### `auth completion`'));
    const block = section.slice(section.indexOf('```sh') + 5, section.indexOf('```', section.indexOf('```sh') + 5));
    const lines = block.split('\n').filter((l) => l.startsWith('mkdir -p'));
    expect(lines).toHaveLength(3);
    const fresh = join(home, 'fresh-home');
    mkdirSync(fresh);
    for (const line of lines) {
      const res = spawnSync('sh', ['-c', line], { env: { ...env(), HOME: fresh }, encoding: 'utf8' });
      expect(res.status, `${line}: ${res.stderr}`).toBe(0);
    }
    expect(readFileSync(join(fresh, '.local/share/bash-completion/completions/auth'), 'utf8')).toBe(scripts.bash);
    expect(readFileSync(join(fresh, '.zfunc/_auth'), 'utf8')).toBe(scripts.zsh);
    expect(readFileSync(join(fresh, '.config/fish/completions/auth.fish'), 'utf8')).toBe(scripts.fish);
  });

  it('an unknown shell is a usage error (exit 2)', async () => {
    const res = await runCli(['completion', 'tcsh'], { home });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
  });

  it('bash: completes commands, subcommands, options, option values and profile names from config', () => {
    const cases: [string[], string][] = [
      [['auth', ''], 'setup login status token exec'],
      [['auth', 'mfa', 'a'], 'add'],
      [['auth', 'token', '--fo'], '--format'],
      [['auth', 'token', '--format', ''], 'raw json header'],
      [['auth', '-p', ''], 'work personal'],
      [['auth', 'status', '--profile', 'p'], 'personal'],
      [['auth', 'completion', ''], 'bash zsh fish'],
      [['auth', '-p', 'work', 'mfa', 'lo'], 'lock'],
      [['auth', 'profiles', 'use', ''], 'work personal'],
      [['auth', 'profiles', 'remove', 'p'], 'personal'],
    ];
    const script = join(home, 'auth.bash');
    writeFileSync(script, scripts.bash!);
    const body = cases.map(([words]) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _auth; echo "\${COMPREPLY[*]}"`).join('\n');
    const res = spawnSync('bash', ['--norc', '-c', `source '${script}'\n${body}`], { env: env(), encoding: 'utf8' });
    expect(res.stderr).toBe('');
    const lines = res.stdout.split('\n');
    cases.forEach(([words, expected], i) => expect(lines[i], words.join(' ')).toContain(expected));
  });

  const zsh = requireSystem('zsh', has('zsh'), 'zsh is not installed');
  it.skipIf(zsh.skip)('zsh: the same answers through _describe/compadd', () => {
    zsh.assertAvailable();
    const script = join(home, '_auth');
    writeFileSync(script, scripts.zsh!);
    const probe = `compdef() {}
_describe() { local n=$4; [[ -z $n ]] && n=$3; print -r -- "\${(P)n}"; }
compadd() { [[ $1 == -a ]] && print -r -- "\${(P)2}"; }
_normal() { print -r -- "normal: $words"; }
source '${script}'
t() { words=("$@"); CURRENT=\${#words}; PREFIX=\${words[-1]}; _auth; print -- '--'; }
t auth ''
t auth token --format ''
t auth -p ''
t auth mfa ''
t auth exec -- kubectl get
t auth profiles use ''`;
    const res = spawnSync('zsh', ['-f', '-c', probe], { env: env(), encoding: 'utf8' });
    expect(res.stderr).toBe('');
    const [top, formats, profiles, mfa, exec, use] = res.stdout.split('--\n');
    expect(top).toContain('login:sign in');
    expect(formats).toContain('raw json header');
    expect(profiles).toContain('work personal');
    expect(mfa).toContain('unlock:');
    expect(exec).toContain('normal: kubectl get');
    expect(use).toContain('work personal');
  });

  const fish = requireSystem('fish', has('fish'), 'fish is not installed');
  it.skipIf(fish.skip)('fish: completes commands with descriptions, option values and profile names', () => {
    fish.assertAvailable();
    const script = join(home, 'auth.fish');
    writeFileSync(script, scripts.fish!);
    const res = spawnSync('fish', ['--no-config', '-c', `source '${script}'; complete -C 'auth '; echo ===; complete -C 'auth token --format '; echo ===; complete -C 'auth -p '; echo ===; complete -C 'auth mfa c'; echo ===; complete -C 'auth profiles use '`], { env: env(), encoding: 'utf8' });
    expect(res.stderr).toBe('');
    const [top, formats, profiles, mfa, use] = res.stdout.split('===\n');
    expect(top).toMatch(/^token\tprint a fresh access token/m);
    expect(top).not.toContain('__complete-profiles');
    expect(formats!.split('\n').map((l) => l.split('\t')[0])).toEqual(expect.arrayContaining(['raw', 'json', 'header']));
    expect(profiles!.split('\n').map((l) => l.split('\t')[0])).toEqual(expect.arrayContaining(['work', 'personal']));
    expect(mfa).toMatch(/^code\t/m);
    expect(use!.split('\n').map((l) => l.split('\t')[0])).toEqual(expect.arrayContaining(['work', 'personal']));
  });
});
