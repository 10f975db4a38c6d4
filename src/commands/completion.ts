import type { Command, Option } from 'commander';
import type { Deps } from '../deps.js';

/**
 * docs/design.md §2 `auth completion bash|zsh|fish`: scripts generated from the
 * commander tree itself — every visible command, subcommand and option, the
 * choices of options and arguments, and profile names asked of
 * `auth __complete-profiles` when the user presses Tab (so they follow
 * config.yaml). The same scripts are committed under completions/ by
 * scripts/generate-completions.mjs; test/completion.test.ts fails when they
 * drift from the code.
 */
export type Shell = 'bash' | 'zsh' | 'fish';

/** The hidden command that prints profile names, one per line. */
const PROFILES_HELPER = '__complete-profiles';

interface OptionSpec {
  flags: string[];
  description: string;
  takesValue: boolean;
  values: string[];
  profiles: boolean;
}

interface CommandNode {
  /** Space-separated path below `auth` ("" for the root). */
  path: string;
  subcommands: { name: string; description: string }[];
  options: OptionSpec[];
  /** Choices of the first positional argument. */
  argChoices: string[];
  /** The first positional argument is a profile name (`<profile>`): completed from config.yaml. */
  argProfiles: boolean;
  /** Everything after `--` is another command (auth exec). */
  runsCommand: boolean;
}

function optionSpec(opt: Option): OptionSpec {
  const flags = [opt.short, opt.long].filter((f): f is string => Boolean(f));
  return {
    flags,
    description: opt.description,
    takesValue: Boolean(opt.required || opt.optional),
    values: opt.argChoices ?? [],
    profiles: opt.long === '--profile',
  };
}

/** Walks the visible tree; the root's options are global and offered everywhere (commander accepts them anywhere). */
function describeTree(root: Command): CommandNode[] {
  const nodes: CommandNode[] = [];
  const help = root.createHelp();
  // -V/--version belongs to `auth` itself; the others are global.
  const globals = help.visibleOptions(root).filter((o) => o.long !== '--version').map(optionSpec);
  const visit = (cmd: Command, path: string[]) => {
    const own = help.visibleOptions(cmd).map(optionSpec);
    const seen = new Set(own.flatMap((o) => o.flags));
    const options = path.length ? [...own, ...globals.filter((g) => !g.flags.some((f) => seen.has(f)))] : own;
    const subs = help.visibleCommands(cmd).filter((c) => c.name() !== 'help');
    nodes.push({
      path: path.join(' '),
      subcommands: subs.map((c) => ({ name: c.name(), description: c.description() })),
      options,
      argChoices: cmd.registeredArguments[0]?.argChoices ?? [],
      argProfiles: cmd.registeredArguments[0]?.name() === 'profile',
      runsCommand: cmd.name() === 'exec' && path.length === 1,
    });
    for (const sub of subs) visit(sub, [...path, sub.name()]);
  };
  visit(root, []);
  return nodes;
}

const header = (shell: Shell) => `auth completion for ${shell}; generated from the command tree by \`auth completion ${shell}\`. Do not edit.`;
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** A shell `case` body mapping each command path to a word list. */
function caseTable(nodes: CommandNode[], words: (n: CommandNode) => string[], pattern: (p: string) => string, line: (ws: string[]) => string, end: string): string {
  return nodes
    .map((n) => [n, words(n)] as const)
    .filter(([, ws]) => ws.length > 0)
    .map(([n, ws]) => `    ${pattern(n.path)} ${line(ws)}${end}`)
    .join('\n');
}

function valueCases(nodes: CommandNode[], render: (path: string, flags: string[], body: string) => string, profilesBody: string, choicesBody: (values: string[]) => string): string {
  const out: string[] = [];
  for (const n of nodes) {
    for (const o of n.options) {
      if (o.profiles) out.push(render(n.path, o.flags, profilesBody));
      else if (o.values.length) out.push(render(n.path, o.flags, choicesBody(o.values)));
    }
  }
  return out.join('\n');
}

function bash(nodes: CommandNode[]): string {
  const bashCase = (p: string) => `${sq(p)})`;
  const exec = nodes.filter((n) => n.runsCommand).map((n) => sq(n.path));
  return `# ${header('bash')}
# Install: source this file from ~/.bashrc, or copy it to
# ~/.local/share/bash-completion/completions/auth

_auth_subcommands() {
  case "$1" in
${caseTable(nodes, (n) => n.subcommands.map((s) => s.name), bashCase, (ws) => `echo ${sq(ws.join(' '))}`, ' ;;')}
  esac
}

_auth_options() {
  case "$1" in
${caseTable(nodes, (n) => n.options.flatMap((o) => o.flags), bashCase, (ws) => `echo ${sq(ws.join(' '))}`, ' ;;')}
  esac
}

# Options that take a value (the next word is that value, not a command).
_auth_value_options() {
  case "$1" in
${caseTable(nodes, (n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags), bashCase, (ws) => `echo ${sq(ws.join(' '))}`, ' ;;')}
  esac
}

_auth_args() {
  case "$1" in
${caseTable(nodes, (n) => n.argChoices, bashCase, (ws) => `echo ${sq(ws.join(' '))}`, ' ;;')}
${nodes.filter((n) => n.argProfiles).map((n) => `    ${bashCase(n.path)} auth ${PROFILES_HELPER} 2>/dev/null ;;`).join('\n')}
  esac
}

# $1 command path, $2 option: the values it can take.
_auth_values() {
  case "$1 $2" in
${valueCases(nodes, (path, flags, body) => `    ${flags.map((f) => sq(`${path} ${f}`)).join('|')}) ${body} ;;`, `auth ${PROFILES_HELPER} 2>/dev/null`, (v) => `echo ${sq(v.join(' '))}`)}
  esac
}

_auth() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" w i skip=0 after=-1
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    if [[ "$w" == "--" ]]; then after=$i; break; fi
    if [[ "$w" == -* ]]; then
      [[ "$w" != *=* && " $(_auth_value_options "$cmdpath") " == *" $w "* ]] && skip=1
      continue
    fi
    [[ " $(_auth_subcommands "$cmdpath") " == *" $w "* ]] && cmdpath="\${cmdpath:+$cmdpath }$w"
  done
  if ((after >= 0)); then
    case "$cmdpath" in
${exec.length ? `      ${exec.join('|')})\n        if ((COMP_CWORD == after + 1)); then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi ;;\n` : ''}    esac
    return 0
  fi
  if ((skip)); then
    COMPREPLY=($(compgen -W "$(_auth_values "$cmdpath" "\${COMP_WORDS[COMP_CWORD - 1]}")" -- "$cur"))
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_auth_options "$cmdpath")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_auth_subcommands "$cmdpath") $(_auth_args "$cmdpath")" -- "$cur"))
  fi
  return 0
}

complete -F _auth auth
`;
}

function zsh(nodes: CommandNode[]): string {
  const zcase = (p: string) => `${sq(p)})`;
  const described = (items: { name: string; description: string }[]) => `reply=(${items.map((i) => sq(`${i.name.replace(/:/g, '\\:')}:${oneLine(i.description)}`)).join(' ')})`;
  const exec = nodes.filter((n) => n.runsCommand).map((n) => sq(n.path));
  return `#compdef auth
# ${header('zsh')}
# Install: put this file, named _auth, in a directory on $fpath (before compinit runs), e.g.
#   mkdir -p ~/.zfunc && auth completion zsh > ~/.zfunc/_auth   and in ~/.zshrc: fpath=(~/.zfunc $fpath)

_auth_subcommands() {
  case "$1" in
${nodes.filter((n) => n.subcommands.length).map((n) => `    ${zcase(n.path)} ${described(n.subcommands)} ;;`).join('\n')}
    *) reply=() ;;
  esac
}

_auth_options() {
  case "$1" in
${nodes.filter((n) => n.options.length).map((n) => `    ${zcase(n.path)} ${described(n.options.flatMap((o) => o.flags.map((f) => ({ name: f, description: o.description }))))} ;;`).join('\n')}
    *) reply=() ;;
  esac
}

_auth_value_options() {
  case "$1" in
${caseTable(nodes, (n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags), zcase, (ws) => `reply=(${ws.map(sq).join(' ')})`, ' ;;')}
    *) reply=() ;;
  esac
}

_auth_args() {
  case "$1" in
${caseTable(nodes, (n) => n.argChoices, zcase, (ws) => `reply=(${ws.map(sq).join(' ')})`, ' ;;')}
${nodes.filter((n) => n.argProfiles).map((n) => `    ${zcase(n.path)} reply=(\${(f)"$(auth ${PROFILES_HELPER} 2>/dev/null)"}) ;;`).join('\n')}
    *) reply=() ;;
  esac
}

_auth_values() {
  case "$1 $2" in
${valueCases(nodes, (path, flags, body) => `    ${flags.map((f) => sq(`${path} ${f}`)).join('|')}) ${body} ;;`, `reply=(\${(f)"$(auth ${PROFILES_HELPER} 2>/dev/null)"})`, (v) => `reply=(${v.map(sq).join(' ')})`)}
    *) reply=() ;;
  esac
}

_auth() {
  local cmdpath="" w i skip=0
  local -a reply
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    if ((skip)); then skip=0; continue; fi
    if [[ "$w" == "--" ]]; then
      case "$cmdpath" in
${exec.length ? `        ${exec.join('|')})\n          shift $i words
          ((CURRENT -= i))
          _normal
          return ;;\n` : ''}      esac
      return 1
    fi
    if [[ "$w" == -* ]]; then
      _auth_value_options "$cmdpath"
      [[ "$w" != *=* && \${reply[(Ie)$w]} -gt 0 ]] && skip=1
      continue
    fi
    _auth_subcommands "$cmdpath"
    [[ \${reply[(I)$w:*]} -gt 0 ]] && cmdpath="\${cmdpath:+$cmdpath }$w"
  done
  if ((skip)); then
    _auth_values "$cmdpath" "\${words[CURRENT - 1]}"
    (( \${#reply} )) && compadd -a reply
    return
  fi
  if [[ "$PREFIX" == -* ]]; then
    _auth_options "$cmdpath"
    _describe -t options 'option' reply
  else
    _auth_subcommands "$cmdpath"
    local -a subs=("\${reply[@]}")
    (( \${#subs} )) && _describe -t commands 'command' subs
    _auth_args "$cmdpath"
    (( \${#reply} )) && compadd -a reply
  fi
}

if [[ "\${funcstack[1]}" == _auth ]]; then _auth "$@"; else compdef _auth auth; fi
`;
}

function fish(nodes: CommandNode[]): string {
  const fsq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const fcase = (ws: string[]) => `printf '%s\\n' ${ws.map(fsq).join(' ')}`;
  const table = (name: string, words: (n: CommandNode) => string[]) => `function ${name}
    switch "$argv[1]"
${nodes.filter((n) => words(n).length).map((n) => `        case ${fsq(n.path)}\n            ${fcase(words(n))}`).join('\n')}
    end
end`;
  const at = (path: string) => `-n ${fsq(`__auth_at ${fsq(path)}`)}`;
  const lines: string[] = [];
  for (const n of nodes) {
    for (const s of n.subcommands) lines.push(`complete -c auth ${at(n.path)} -a ${fsq(s.name)} -d ${fsq(oneLine(s.description))}`);
    if (n.argChoices.length) lines.push(`complete -c auth ${at(n.path)} -a ${fsq(n.argChoices.join(' '))}`);
    if (n.argProfiles) lines.push(`complete -c auth ${at(n.path)} -x -a ${fsq(`(auth ${PROFILES_HELPER} 2>/dev/null)`)}`);
    for (const o of n.options) {
      const flags = o.flags.map((f) => (f.startsWith('--') ? `-l ${fsq(f.slice(2))}` : `-s ${fsq(f.slice(1))}`)).join(' ');
      const value = o.profiles ? ` -x -a ${fsq(`(auth ${PROFILES_HELPER} 2>/dev/null)`)}` : o.values.length ? ` -x -a ${fsq(o.values.join(' '))}` : o.takesValue ? ' -x' : '';
      lines.push(`complete -c auth ${at(n.path)} ${flags}${value} -d ${fsq(oneLine(o.description))}`);
    }
  }
  const exec = nodes.filter((n) => n.runsCommand);
  return `# ${header('fish')}
# Install: mkdir -p ~/.config/fish/completions, then copy this file to ~/.config/fish/completions/auth.fish

${table('__auth_subcommands', (n) => n.subcommands.map((s) => s.name))}

${table('__auth_value_options', (n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags))}

# The command path typed so far ("mfa add"), or "--" once a command to run begins.
function __auth_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l p ''
    set -l skip 0
    for w in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        if test "$w" = '--'
            echo -- '--'
            return
        end
        if string match -q -- '-*' $w
            if not string match -q -- '*=*' $w; and contains -- $w (__auth_value_options $p)
                set skip 1
            end
            continue
        end
        if contains -- $w (__auth_subcommands $p)
            set p (string trim -- "$p $w")
        end
    end
    echo -- $p
end

function __auth_at
    set -l p (__auth_path)
    test "$p" = "$argv[1]"
end

complete -c auth -f
${exec.length ? `complete -c auth -n '__auth_at --' -F\n` : ''}${lines.join('\n')}
`;
}

function completionScript(root: Command, shell: Shell): string {
  const nodes = describeTree(root);
  return shell === 'bash' ? bash(nodes) : shell === 'zsh' ? zsh(nodes) : fish(nodes);
}

export function runCompletion(root: Command, shell: Shell, deps: Deps): void {
  deps.io.stdout.write(completionScript(root, shell));
}

/** `auth __complete-profiles`: profile names for Tab; silent on any problem (a completion must never print errors). */
export async function runCompleteProfiles(deps: Deps): Promise<void> {
  try {
    const { loadConfig } = await import('../config/config.js');
    const names = Object.keys(loadConfig(deps.paths.configFile).profiles);
    if (names.length) deps.io.stdout.write(`${names.join('\n')}\n`);
  } catch {
    // nothing to offer
  }
}
