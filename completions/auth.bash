# auth completion for bash; generated from the command tree by `auth completion bash`. Do not edit.
# Install: source this file from ~/.bashrc, or copy it to
# ~/.local/share/bash-completion/completions/auth

_auth_subcommands() {
  case "$1" in
    '') echo 'setup login status token exec refresh logout mfa profiles git-credential setup-git setup-kube agent completion' ;;
    'mfa') echo 'setup unlock lock status disable backup-codes add code list remove' ;;
    'profiles') echo 'use remove' ;;
    'agent') echo 'start run stop status grant grants revoke' ;;
  esac
}

_auth_options() {
  case "$1" in
    '') echo '-V --version -p --profile --debug --no-color -h --help' ;;
    'setup') echo '-h --help -p --profile --debug --no-color' ;;
    'login') echo '--issuer --client-id --client-secret-env --scope --resource --device --browser --no-browser --port --timeout --no-qr --with-token --client-credentials -h --help -p --profile --debug --no-color' ;;
    'status') echo '--all --json -h --help -p --profile --debug --no-color' ;;
    'token') echo '--min-ttl --format --id-token --no-refresh -h --help -p --profile --debug --no-color' ;;
    'exec') echo '--env -p --profile --debug --no-color -h --help' ;;
    'refresh') echo '--force -h --help -p --profile --debug --no-color' ;;
    'logout') echo '--all --no-revoke --force -h --help -p --profile --debug --no-color' ;;
    'mfa') echo '-h --help -p --profile --debug --no-color' ;;
    'mfa setup') echo '-h --help -p --profile --debug --no-color' ;;
    'mfa unlock') echo '-h --help -p --profile --debug --no-color' ;;
    'mfa lock') echo '-h --help -p --profile --debug --no-color' ;;
    'mfa status') echo '--json -h --help -p --profile --debug --no-color' ;;
    'mfa disable') echo '-h --help -p --profile --debug --no-color' ;;
    'mfa backup-codes') echo '-h --help -p --profile --debug --no-color' ;;
    'mfa add') echo '--uri --secret --algorithm --digits --period --issuer -h --help -p --profile --debug --no-color' ;;
    'mfa code') echo '-h --help -p --profile --debug --no-color' ;;
    'mfa list') echo '--json -h --help -p --profile --debug --no-color' ;;
    'mfa remove') echo '-h --help -p --profile --debug --no-color' ;;
    'profiles') echo '--json -h --help -p --profile --debug --no-color' ;;
    'profiles use') echo '-h --help -p --profile --debug --no-color' ;;
    'profiles remove') echo '-h --help -p --profile --debug --no-color' ;;
    'git-credential') echo '-h --help -p --profile --debug --no-color' ;;
    'setup-git') echo '--host --dry-run -h --help -p --profile --debug --no-color' ;;
    'setup-kube') echo '--user --context --id-token --dry-run -h --help -p --profile --debug --no-color' ;;
    'agent') echo '-h --help -p --profile --debug --no-color' ;;
    'agent start') echo '-h --help -p --profile --debug --no-color' ;;
    'agent run') echo '-h --help -p --profile --debug --no-color' ;;
    'agent stop') echo '-h --help -p --profile --debug --no-color' ;;
    'agent status') echo '--json -h --help -p --profile --debug --no-color' ;;
    'agent grant') echo '--ttl -h --help -p --profile --debug --no-color' ;;
    'agent grants') echo '--json -h --help -p --profile --debug --no-color' ;;
    'agent revoke') echo '-h --help -p --profile --debug --no-color' ;;
    'completion') echo '-h --help -p --profile --debug --no-color' ;;
  esac
}

# Options that take a value (the next word is that value, not a command).
_auth_value_options() {
  case "$1" in
    '') echo '-p --profile' ;;
    'setup') echo '-p --profile' ;;
    'login') echo '--issuer --client-id --client-secret-env --scope --resource --port --timeout -p --profile' ;;
    'status') echo '-p --profile' ;;
    'token') echo '--min-ttl --format -p --profile' ;;
    'exec') echo '--env -p --profile' ;;
    'refresh') echo '-p --profile' ;;
    'logout') echo '-p --profile' ;;
    'mfa') echo '-p --profile' ;;
    'mfa setup') echo '-p --profile' ;;
    'mfa unlock') echo '-p --profile' ;;
    'mfa lock') echo '-p --profile' ;;
    'mfa status') echo '-p --profile' ;;
    'mfa disable') echo '-p --profile' ;;
    'mfa backup-codes') echo '-p --profile' ;;
    'mfa add') echo '--uri --secret --algorithm --digits --period --issuer -p --profile' ;;
    'mfa code') echo '-p --profile' ;;
    'mfa list') echo '-p --profile' ;;
    'mfa remove') echo '-p --profile' ;;
    'profiles') echo '-p --profile' ;;
    'profiles use') echo '-p --profile' ;;
    'profiles remove') echo '-p --profile' ;;
    'git-credential') echo '-p --profile' ;;
    'setup-git') echo '--host -p --profile' ;;
    'setup-kube') echo '--user --context -p --profile' ;;
    'agent') echo '-p --profile' ;;
    'agent start') echo '-p --profile' ;;
    'agent run') echo '-p --profile' ;;
    'agent stop') echo '-p --profile' ;;
    'agent status') echo '-p --profile' ;;
    'agent grant') echo '--ttl -p --profile' ;;
    'agent grants') echo '-p --profile' ;;
    'agent revoke') echo '-p --profile' ;;
    'completion') echo '-p --profile' ;;
  esac
}

_auth_args() {
  case "$1" in
    'git-credential') echo 'get store erase' ;;
    'completion') echo 'bash zsh fish' ;;
    'profiles use') auth __complete-profiles 2>/dev/null ;;
    'profiles remove') auth __complete-profiles 2>/dev/null ;;
  esac
}

# $1 command path, $2 option: the values it can take.
_auth_values() {
  case "$1 $2" in
    ' -p'|' --profile') auth __complete-profiles 2>/dev/null ;;
    'setup -p'|'setup --profile') auth __complete-profiles 2>/dev/null ;;
    'login -p'|'login --profile') auth __complete-profiles 2>/dev/null ;;
    'status -p'|'status --profile') auth __complete-profiles 2>/dev/null ;;
    'token --format') echo 'raw json header env exec-credential' ;;
    'token -p'|'token --profile') auth __complete-profiles 2>/dev/null ;;
    'exec -p'|'exec --profile') auth __complete-profiles 2>/dev/null ;;
    'refresh -p'|'refresh --profile') auth __complete-profiles 2>/dev/null ;;
    'logout -p'|'logout --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa -p'|'mfa --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa setup -p'|'mfa setup --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa unlock -p'|'mfa unlock --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa lock -p'|'mfa lock --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa status -p'|'mfa status --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa disable -p'|'mfa disable --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa backup-codes -p'|'mfa backup-codes --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa add -p'|'mfa add --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa code -p'|'mfa code --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa list -p'|'mfa list --profile') auth __complete-profiles 2>/dev/null ;;
    'mfa remove -p'|'mfa remove --profile') auth __complete-profiles 2>/dev/null ;;
    'profiles -p'|'profiles --profile') auth __complete-profiles 2>/dev/null ;;
    'profiles use -p'|'profiles use --profile') auth __complete-profiles 2>/dev/null ;;
    'profiles remove -p'|'profiles remove --profile') auth __complete-profiles 2>/dev/null ;;
    'git-credential -p'|'git-credential --profile') auth __complete-profiles 2>/dev/null ;;
    'setup-git -p'|'setup-git --profile') auth __complete-profiles 2>/dev/null ;;
    'setup-kube -p'|'setup-kube --profile') auth __complete-profiles 2>/dev/null ;;
    'agent -p'|'agent --profile') auth __complete-profiles 2>/dev/null ;;
    'agent start -p'|'agent start --profile') auth __complete-profiles 2>/dev/null ;;
    'agent run -p'|'agent run --profile') auth __complete-profiles 2>/dev/null ;;
    'agent stop -p'|'agent stop --profile') auth __complete-profiles 2>/dev/null ;;
    'agent status -p'|'agent status --profile') auth __complete-profiles 2>/dev/null ;;
    'agent grant -p'|'agent grant --profile') auth __complete-profiles 2>/dev/null ;;
    'agent grants -p'|'agent grants --profile') auth __complete-profiles 2>/dev/null ;;
    'agent revoke -p'|'agent revoke --profile') auth __complete-profiles 2>/dev/null ;;
    'completion -p'|'completion --profile') auth __complete-profiles 2>/dev/null ;;
  esac
}

_auth() {
  local cur="${COMP_WORDS[COMP_CWORD]}" cmdpath="" w i skip=0 after=-1
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    if [[ "$w" == "--" ]]; then after=$i; break; fi
    if [[ "$w" == -* ]]; then
      [[ "$w" != *=* && " $(_auth_value_options "$cmdpath") " == *" $w "* ]] && skip=1
      continue
    fi
    [[ " $(_auth_subcommands "$cmdpath") " == *" $w "* ]] && cmdpath="${cmdpath:+$cmdpath }$w"
  done
  if ((after >= 0)); then
    case "$cmdpath" in
      'exec')
        if ((COMP_CWORD == after + 1)); then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi ;;
    esac
    return 0
  fi
  if ((skip)); then
    COMPREPLY=($(compgen -W "$(_auth_values "$cmdpath" "${COMP_WORDS[COMP_CWORD - 1]}")" -- "$cur"))
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
