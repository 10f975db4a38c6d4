#!/usr/bin/env node
// @ts-check
/* global document -- the page functions passed to tab.evaluate run in the browser */
/**
 * `node scripts/screenshots.mjs`: terminal screenshots for docs/screenshots/, from real runs.
 *
 * Needs `npm run build` first, tmux and Chromium (/usr/bin/chromium, or CHROMIUM_PATH).
 * Not part of `npm test`.
 *
 * Starts the sandbox provider (sandbox/provider.mjs) and a private tmux server
 * (`tmux -S <temporary directory>/tmux.sock`, no status line, 100×32 panes,
 * TERM xterm-256color) running bash with a `$ ` prompt, `auth` on PATH (a wrapper around bin/auth.js), a temporary
 * AUTH_HOME and AUTH_BROWSER=sandbox/browser.mjs (the scripted browser that signs in on the
 * sandbox's pages as alice). The commands are typed into the pane with send-keys:
 *
 *   terminal-login.png        auth login --issuer <sandbox> --client-id auth-cli   (after the ✓ line)
 *   terminal-device-qr.png    auth login --device --issuer <sandbox> --client-id auth-cli
 *                             (while it waits; the request is then approved on the sandbox's
 *                             device pages by sandbox/browser-lib.mjs approveDevice)
 *   terminal-status.png       auth status
 *   terminal-setup-provider.png  auth setup (a fresh AUTH_HOME), at the first question
 *   terminal-setup.png        auth setup, at the scopes prompt
 *   terminal-setup-done.png   auth setup, after "Log in now?" signed in
 *
 * Each screen is taken with `tmux capture-pane -e -p` (colours kept), turned into HTML by the
 * small ANSI SGR converter below and rendered by headless Chromium (playwright-core).
 * With `--keep-html` the HTML pages are kept in a temporary directory (printed) for inspection.
 *
 * The tmux server, the sandbox and the temporary directory are removed on exit (also on
 * Ctrl-C).
 */

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { approveDevice } from '../sandbox/browser-lib.mjs';
import { startSandbox } from '../sandbox/provider.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(repo, 'docs', 'screenshots');
const CLI = path.join(repo, 'bin', 'auth.js');
const BUILT = path.join(repo, 'dist', 'main.cjs');
const SCRIPTED_BROWSER = path.join(repo, 'sandbox', 'browser.mjs');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const COLS = 100;
const ROWS = 32;
/** Fewest rows in a picture (blank rows below the output are cut). */
const MIN_ROWS = 12;
/** Tried first so the issuer in the pictures stays the same between runs; any free port otherwise. */
const PREFERRED_PORT = 9480;
const KEEP_HTML = process.argv.includes('--keep-html');

/** @param {string} line */
const say = (line) => process.stderr.write(`screenshots: ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Cleanup: everything this script started, and nothing else.

/** @type {Array<() => void | Promise<void>>} */
const cleanups = [];
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      say(`cleanup: ${/** @type {Error} */ (err)?.message ?? err}`);
    }
  }
}
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(sig, () => {
    say(`${sig}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// tmux: a private server (its own socket, in the temporary directory), one session at a time.

class Terminal {
  /** @param {NodeJS.ProcessEnv} env @param {string} conf @param {string} socket */
  constructor(env, conf, socket) {
    this.socket = socket;
    this.env = env;
    this.conf = conf;
    this.started = false;
    this.scenes = 0;
    this.target = '';
  }

  /** @param {string[]} args */
  tmux(args) {
    const res = spawnSync('tmux', ['-S', this.socket, '-f', this.conf, ...args], { env: this.env, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`tmux ${args[0]} failed: ${res.stderr || res.error?.message}`);
    return res.stdout;
  }

  /**
   * A fresh screen: (re)creates session "main" with an interactive bash in it.
   * @param {Record<string, string>} [vars] extra environment for this session's shell
   */
  async open(vars = {}) {
    // The new session first, then the old one goes: a server left without sessions exits,
    // and a new-session racing that exit fails.
    const previous = this.started ? this.target : undefined;
    this.target = `scene${++this.scenes}`;
    const extra = Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    this.tmux(['new-session', '-d', '-s', this.target, '-x', String(COLS), '-y', String(ROWS), ...extra,
      'bash', '--noprofile', '--norc', '-i']);
    this.started = true;
    if (previous) this.tmux(['kill-session', '-t', previous]);
    await this.waitFor(/^\$$/m);
  }

  /** The visible screen as plain text (trailing blanks trimmed by tmux). */
  text() {
    return this.tmux(['capture-pane', '-p', '-t', this.target]);
  }

  /** The visible screen with SGR escapes, plus where the cursor is. */
  capture() {
    const ansi = this.tmux(['capture-pane', '-e', '-p', '-t', this.target]);
    const [x, y, visible] = this.tmux(['display-message', '-p', '-t', this.target, '#{cursor_x} #{cursor_y} #{cursor_flag}']).trim().split(' ');
    return { ansi, cursor: visible === '1' ? { x: Number(x), y: Number(y) } : undefined };
  }

  /** @param {string} text */
  type(text) {
    if (text) this.tmux(['send-keys', '-t', this.target, '-l', text]);
  }

  /** @param {...string} keys */
  keys(...keys) {
    this.tmux(['send-keys', '-t', this.target, ...keys]);
  }

  /** @param {string} command */
  run(command) {
    this.type(command);
    this.keys('Enter');
  }

  /** @param {RegExp} pattern @param {number} [timeoutMs] */
  async waitFor(pattern, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.text().match(pattern);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; the screen:\n${this.text()}`);
      await sleep(50);
    }
  }

  /** Waits until the command finished: the last non-blank line is a bare prompt again. */
  async waitForPrompt(timeoutMs = 30_000) {
    await this.waitFor(/\n\$\s*$/, timeoutMs);
  }

  /** Inquirer prompts: the active one starts with "?"; type the answer and press Enter. */
  async answer(/** @type {string} */ prompt, text = '') {
    await this.waitFor(new RegExp(`^\\? ${prompt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    await sleep(150);
    this.type(text);
    this.keys('Enter');
  }

  kill() {
    if (!this.started) return;
    spawnSync('tmux', ['-S', this.socket, 'kill-server'], { env: this.env });
    this.started = false;
  }
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// ANSI SGR → HTML

/** xterm's default 16 colours, slightly softened for a dark background. */
const BASE16 = [
  '#1e1e1e', '#e0565b', '#5fb96a', '#d7ba50', '#4f8fe6', '#c678dd', '#3fb8c4', '#d0d0d0',
  '#767676', '#ff6e73', '#8ee08e', '#f0d66b', '#74a8ff', '#e197f5', '#67d8e3', '#ffffff',
];
const DEFAULT_FG = '#d8d8d8';
const DEFAULT_BG = '#16181d';

/** @param {number} n 0-255 */
function color256(n) {
  if (n < 16) return BASE16[n];
  if (n < 232) {
    const i = n - 16;
    const steps = [0, 95, 135, 175, 215, 255];
    const hex = (/** @type {number} */ v) => v.toString(16).padStart(2, '0');
    return `#${hex(steps[Math.floor(i / 36)] ?? 0)}${hex(steps[Math.floor(i / 6) % 6] ?? 0)}${hex(steps[i % 6] ?? 0)}`;
  }
  const v = (8 + (n - 232) * 10).toString(16).padStart(2, '0');
  return `#${v}${v}${v}`;
}

/**
 * @typedef {{ fg?: string, bg?: string, bold?: boolean, dim?: boolean, italic?: boolean,
 *   underline?: boolean, inverse?: boolean, strike?: boolean }} Style
 */

/**
 * Applies one SGR parameter list (the part between ESC[ and m) to a style.
 * @param {Style} style @param {string} params
 * @returns {Style}
 */
export function applySgr(style, params) {
  const p = params === '' ? [0] : params.split(/[;:]/).map((s) => (s === '' ? 0 : Number(s)));
  let s = { ...style };
  for (let i = 0; i < p.length; i++) {
    const n = p[i] ?? 0;
    if (n === 0) s = {};
    else if (n === 1) s.bold = true;
    else if (n === 2) s.dim = true;
    else if (n === 3) s.italic = true;
    else if (n === 4) s.underline = true;
    else if (n === 7) s.inverse = true;
    else if (n === 9) s.strike = true;
    else if (n === 22) { s.bold = false; s.dim = false; }
    else if (n === 23) s.italic = false;
    else if (n === 24) s.underline = false;
    else if (n === 27) s.inverse = false;
    else if (n === 29) s.strike = false;
    else if (n >= 30 && n <= 37) s.fg = BASE16[n - 30];
    else if (n >= 90 && n <= 97) s.fg = BASE16[n - 90 + 8];
    else if (n === 39) delete s.fg;
    else if (n >= 40 && n <= 47) s.bg = BASE16[n - 40];
    else if (n >= 100 && n <= 107) s.bg = BASE16[n - 100 + 8];
    else if (n === 49) delete s.bg;
    else if (n === 38 || n === 48) {
      const key = n === 38 ? 'fg' : 'bg';
      if (p[i + 1] === 5) {
        s[key] = color256((p[i + 2] ?? 0) & 255);
        i += 2;
      } else if (p[i + 1] === 2) {
        const rgb = [p[i + 2], p[i + 3], p[i + 4]].map((v) => ((v ?? 0) & 255).toString(16).padStart(2, '0'));
        s[key] = `#${rgb.join('')}`;
        i += 4;
      }
    }
  }
  return s;
}

/** @param {string} t */
const esc = (t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** @param {Style} s */
function css(s) {
  let fg = s.fg;
  let bg = s.bg;
  if (s.inverse) [fg, bg] = [bg ?? DEFAULT_BG, fg ?? DEFAULT_FG];
  const out = [];
  if (fg) out.push(`color:${fg}`);
  if (bg) out.push(`background:${bg}`);
  if (s.bold) out.push('font-weight:bold');
  if (s.dim) out.push('opacity:.6');
  if (s.italic) out.push('font-style:italic');
  const deco = [s.underline && 'underline', s.strike && 'line-through'].filter(Boolean);
  if (deco.length) out.push(`text-decoration:${deco.join(' ')}`);
  return out.join(';');
}

/** Cell size in CSS pixels: whole pixels, two by one, so a half-block cell is a square module. */
const CELL_W = 9;
const CELL_H = 18;
const FONT_PX = 15;

/**
 * The half and full blocks a QR code is drawn with (qrcode-terminal's small mode) are painted
 * as cell-sized boxes rather than font glyphs: glyphs at fractional widths leave hairline
 * seams, and their height is the font's, not the row's. Characters outside the monospace
 * font's coverage (they would fall back to a proportional font) are boxed into one cell so
 * the columns stay aligned.
 * @param {string} ch
 * @param {Style} style
 */
function cell(ch, style) {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x80) return esc(ch);
  const fill = { '█': 'full', '▀': 'upper', '▄': 'lower', '▌': 'left', '▐': 'right' }[ch];
  if (fill) {
    let fg = style.fg ?? DEFAULT_FG;
    let bg = style.bg ?? DEFAULT_BG;
    if (style.inverse) [fg, bg] = [bg, fg];
    const paint = {
      full: fg,
      upper: `linear-gradient(${fg} 50%, ${bg} 50%)`,
      lower: `linear-gradient(${bg} 50%, ${fg} 50%)`,
      left: `linear-gradient(90deg, ${fg} 50%, ${bg} 50%)`,
      right: `linear-gradient(90deg, ${bg} 50%, ${fg} 50%)`,
    }[fill];
    return `<span class="b" style="background:${paint}"></span>`;
  }
  if (cp >= 0x2500 && cp <= 0x259f) return esc(ch);
  return `<span class="w">${esc(ch)}</span>`;
}

/**
 * One screen of `tmux capture-pane -e -p` output → HTML lines. Escapes other than SGR are
 * dropped. The cursor (when visible) is drawn as a block.
 * @param {string} ansi
 * @param {{ x: number, y: number }} [cursor]
 * @returns {string[]}
 */
export function ansiToHtml(ansi, cursor) {
  const lines = ansi.replace(/\n$/, '').split('\n');
  /** @type {Style} */
  let style = {};
  return lines.map((line, y) => {
    let html = '';
    let col = 0;
    let run = '';
    let open = '';
    const flush = () => {
      if (!run) return;
      html += open ? `<span style="${open}">${run}</span>` : run;
      run = '';
    };
    const setStyle = (/** @type {Style} */ next) => {
      const c = css(next);
      if (c !== open) {
        flush();
        open = c;
      }
    };
    setStyle(style);
    // eslint-disable-next-line no-control-regex
    const tokens = line.match(/\x1b\[[0-9;:?]*[A-Za-z]|\x1b[^[]|[\s\S]/gu) ?? [];
    for (const tok of tokens) {
      if (tok.startsWith('\x1b')) {
        if (tok.endsWith('m') && tok.startsWith('\x1b[')) {
          style = applySgr(style, tok.slice(2, -1));
          setStyle(style);
        }
        continue;
      }
      if (cursor && cursor.y === y && cursor.x === col) {
        const saved = style;
        setStyle({ ...style, inverse: !style.inverse });
        run += cell(tok, { ...style, inverse: !style.inverse });
        setStyle(saved);
      } else {
        run += cell(tok, style);
      }
      col += 1;
    }
    flush();
    if (cursor && cursor.y === y && cursor.x >= col) {
      html += `${' '.repeat(cursor.x - col)}<span class="cursor"> </span>`;
    }
    // Styles do not carry across lines in capture-pane output (tmux starts each line afresh
    // with the attributes it needs), but a line that ended with colour set would leak it.
    style = {};
    return html;
  });
}

/**
 * @param {string[]} lines HTML per screen row
 * @param {string} title
 */
function page(lines, title) {
  // Every cell is CELL_W × CELL_H whole pixels: the text's advance is brought to CELL_W by
  // letter-spacing (set by fitCells() once the font is loaded), the rows are CELL_H high, and
  // the QR blocks are boxes of exactly one cell, so the code comes out square and seamless.
  return `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title>
<style>
  html, body { margin: 0; background: #0b0c0f; }
  .window { display: inline-block; margin: 0; background: ${DEFAULT_BG}; border-radius: 8px; overflow: hidden;
    box-shadow: 0 0 0 1px #2c2f36; }
  .bar { height: 30px; background: #262930; display: flex; align-items: center; padding: 0 12px; gap: 8px;
    font: 13px "DejaVu Sans", sans-serif; color: #9aa0aa; }
  .dot { width: 12px; height: 12px; border-radius: 50%; }
  .title { flex: 1; text-align: center; margin-right: 60px; }
  pre { margin: 0; padding: 12px 16px 14px; font-family: "DejaVu Sans Mono", monospace; font-size: ${FONT_PX}px;
    line-height: ${CELL_H}px; color: ${DEFAULT_FG}; font-variant-ligatures: none; font-kerning: none;
    letter-spacing: var(--fit, 0px); width: ${COLS * CELL_W}px; }
  .w { display: inline-block; width: ${CELL_W}px; height: ${CELL_H}px; vertical-align: top; text-align: center;
    letter-spacing: 0; }
  .b { display: inline-block; width: ${CELL_W}px; height: ${CELL_H}px; vertical-align: top; }
  .cursor { background: ${DEFAULT_FG}; }
</style>
<div class="window"><div class="bar"><span class="dot" style="background:#ff5f57"></span><span class="dot" style="background:#febc2e"></span><span class="dot" style="background:#28c840"></span><span class="title">${esc(title)}</span></div>
<pre>${lines.map((l) => l || ' ').join('\n')}</pre></div>`;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(BUILT)) {
    say('dist/main.cjs not found: run `npm run build` first.');
    return 1;
  }
  if (spawnSync('tmux', ['-V']).status !== 0) {
    say('tmux is not installed (apt-get install tmux).');
    return 1;
  }
  if (!existsSync(CHROMIUM)) {
    say(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH).`);
    return 1;
  }

  const work = mkdtempSync(path.join(tmpdir(), 'auth-screens-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const bin = path.join(work, 'bin');
  mkdirSync(bin);
  // Short paths of their own: `auth status` and the wizard print them.
  const home = mkdtempSync(path.join(tmpdir(), 'auth-home-'));
  const setupHome = mkdtempSync(path.join(tmpdir(), 'auth-home-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }), () => rmSync(setupHome, { recursive: true, force: true }));
  writeFileSync(path.join(bin, 'auth'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(path.join(bin, 'auth'), 0o755);
  const conf = path.join(work, 'tmux.conf');
  writeFileSync(conf, [
    'set -g status off',
    'set -g default-terminal "xterm-256color"',
    `set -g default-size "${COLS}x${ROWS}"`,
    'set -g history-limit 1000',
    '',
  ].join('\n'));

  let sandbox;
  try {
    sandbox = await startSandbox({ port: PREFERRED_PORT, deviceInterval: 2 });
  } catch {
    sandbox = await startSandbox({ port: 0, deviceInterval: 2 });
  }
  const sb = sandbox;
  cleanups.push(() => sb.close());
  const issuer = sandbox.issuer;
  say(`sandbox provider at ${issuer}`);

  /** @type {NodeJS.ProcessEnv} */
  const env = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    AUTH_HOME: home,
    AUTH_STORAGE: 'file',
    AUTH_BROWSER: SCRIPTED_BROWSER,
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    TERM: 'xterm-256color',
    PS1: '\\[\\e[32m\\]$\\[\\e[0m\\] ',
    HISTFILE: '/dev/null',
    // No real keyring: the file store is used (AUTH_STORAGE=file).
    DBUS_SESSION_BUS_ADDRESS: 'disabled:',
  };
  const term = new Terminal(env, conf, path.join(work, 'tmux.sock'));
  cleanups.push(() => term.kill());

  /** @type {Array<{ file: string, title: string, lines: string[] }>} */
  const shots = [];
  const shoot = (/** @type {string} */ file, /** @type {string} */ title) => {
    const { ansi, cursor } = term.capture();
    const lines = ansiToHtml(ansi, cursor);
    // The pane is ROWS high; the picture stops one row below the last one written on.
    const used = lines.findLastIndex((l) => l.replace(/<span class="(?:b|cursor)"[^>]*>[^<]*<\/span>/g, '#').replace(/<[^>]*>/g, '').trim() !== '') + 1;
    shots.push({ file, title, lines: lines.slice(0, Math.min(ROWS, Math.max(used + 1, MIN_ROWS))) });
    say(`captured ${file}`);
  };

  // (1) Browser sign-in; AUTH_BROWSER is the scripted browser, which signs in as alice.
  await term.open();
  term.run(`auth login --issuer ${issuer} --client-id auth-cli`);
  await term.waitFor(/✓ Logged in/);
  await term.waitForPrompt();
  shoot('terminal-login.png', 'auth login');

  // (2) Device flow on a TTY: the QR code. Captured while it polls; then approved on the
  // sandbox's device pages (user code typed into the form, sign-in, consent).
  await term.open();
  term.run(`auth login --device --issuer ${issuer} --client-id auth-cli`);
  const [, verificationUri, userCode] = await term.waitFor(/open (\S+) and enter the code: (\S+)/);
  await term.waitFor(/Waiting for you to approve/);
  await sleep(400);
  shoot('terminal-device-qr.png', 'auth login --device');
  await approveDevice({ verificationUri, userCode });
  await term.waitFor(/✓ Logged in/);
  await term.waitForPrompt();

  // (3) Status of the profile just signed in.
  await term.open();
  term.run('auth status');
  await term.waitFor(/\$ auth status\n[\s\S]*\n\$\s*$/);
  shoot('terminal-status.png', 'auth status');

  // (4) The wizard, from nothing (its own AUTH_HOME), answered with send-keys.
  await term.open({ AUTH_HOME: setupHome, HOME: setupHome });
  term.run('auth setup');
  await term.waitFor(/auth setup: configure how to sign in/);
  await term.waitFor(/^\? Provider/m);
  await sleep(300);
  shoot('terminal-setup-provider.png', 'auth setup');
  await term.answer('Provider', '8'); // the 8th preset: OpenID Connect
  await term.answer('Issuer URL', issuer);
  await term.answer('Client ID', 'auth-cli');
  await term.answer('Client secret'); // none: a public client
  await term.waitFor(/^\? Scopes/m);
  await sleep(300);
  shoot('terminal-setup.png', 'auth setup');
  await term.answer('Scopes'); // the preset's defaults, preselected
  await term.answer('Other scopes');
  await term.answer('Resource indicators');
  await term.answer('Sign-in flow'); // auto
  await term.answer('Where to keep the tokens', '2'); // file (no keyring on this machine)
  await term.answer('Profile name', 'work');
  await term.waitFor(/answered with its discovery document/);
  await term.answer('Log in now?');
  await term.waitFor(/✓ Logged in/);
  await term.waitForPrompt();
  shoot('terminal-setup-done.png', 'auth setup');

  term.kill();

  // Render.
  const htmlDir = KEEP_HTML ? mkdtempSync(path.join(tmpdir(), 'auth-screenshots-html-')) : path.join(work, 'html');
  mkdirSync(htmlDir, { recursive: true });
  if (KEEP_HTML) say(`HTML pages in ${htmlDir}`);
  const profile = path.join(work, 'chromium');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
    deviceScaleFactor: 1,
  });
  cleanups.push(() => context.close());
  const tab = context.pages()[0] ?? (await context.newPage());
  for (const shot of shots) {
    const file = path.join(htmlDir, shot.file.replace(/\.png$/, '.html'));
    writeFileSync(file, page(shot.lines, shot.title));
    await tab.goto(`file://${file}`);
    await tab.evaluate(() => document.fonts.ready);
    const fit = await tab.evaluate(({ cols, w }) => {
      const pre = /** @type {HTMLElement} */ (document.querySelector('pre'));
      const probe = document.createElement('span');
      probe.textContent = 'M'.repeat(cols);
      pre.prepend(probe);
      const natural = probe.getBoundingClientRect().width;
      pre.style.setProperty('--fit', `${(cols * w - natural) / cols}px`);
      const fitted = probe.getBoundingClientRect().width;
      probe.remove();
      return { natural, fitted };
    }, { cols: COLS, w: CELL_W });
    if (Math.abs(fit.fitted - COLS * CELL_W) > 0.5) throw new Error(`cannot fit the font to ${CELL_W} px cells (${COLS} columns measure ${fit.fitted} px)`);
    await tab.locator('.window').screenshot({ path: path.join(OUT, shot.file) });
    say(`wrote docs/screenshots/${shot.file}`);
  }
  return 0;
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (err) => {
    say(err?.stack ?? String(err));
    await cleanup();
    process.exit(1);
  },
);
