import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from './command-table.js';

// Completion scripts drawn from the command table; completions/ holds their output, and a test fails
// when the two differ. KEY arguments complete from the ledger through the hidden `kmsctl __aliases`.

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const HEADER = 'kmsctl shell completion, generated from the command table by `kmsctl completion';

interface Flag {
  long: string;
  short?: string;
  takesValue: boolean;
  fileValue: boolean;
  choices?: readonly string[];
  description: string;
}

function flag(o: OptionSpec): Flag {
  const long = /--[a-z0-9-]+/.exec(o.flags)![0];
  const short = /(^|\s)(-[a-zA-Z])\b/.exec(o.flags)?.[2];
  const value = /<([^>]+)>/.exec(o.flags)?.[1];
  return { long, short, takesValue: value !== undefined, fileValue: value !== undefined && /file|dir|path/.test(value), choices: o.choices, description: o.description };
}

const visible = COMMANDS.filter((c) => !c.hidden);
const top = visible.filter((c) => !c.parent);
const subsOf = (name: string) => visible.filter((c) => c.parent === name);
const globals = GLOBAL_OPTIONS.map(flag);

function bash(): string {
  const lines: string[] = [];
  const word = (f: Flag) => [f.long, f.short].filter(Boolean).join(' ');
  lines.push(`# ${HEADER} bash\`.`, '# Install: kmsctl completion bash > /etc/bash_completion.d/kmsctl (or source it from ~/.bashrc).');
  lines.push('_kmsctl() {');
  lines.push('  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"');
  lines.push(`  local globals="${globals.map(word).join(' ')}"`);
  lines.push(`  local commands="${top.map((c) => c.name).join(' ')}"`);
  const valued = [...globals, ...visible.flatMap((c) => (c.options ?? []).map(flag))].filter((f) => f.takesValue);
  lines.push('  case "$prev" in');
  const byChoices = new Map<string, string[]>();
  for (const f of valued) {
    const key = f.choices ? f.choices.join(' ') : f.fileValue ? '__FILE__' : '__ANY__';
    byChoices.set(key, [...new Set([...(byChoices.get(key) ?? []), f.long, ...(f.short ? [f.short] : [])])]);
  }
  for (const [key, names] of byChoices) {
    const action = key === '__FILE__' ? 'COMPREPLY=($(compgen -f -- "$cur"))' : key === '__ANY__' ? 'COMPREPLY=()' : `COMPREPLY=($(compgen -W "${key}" -- "$cur"))`;
    lines.push(`    ${names.join('|')}) ${action}; return ;;`);
  }
  lines.push('  esac');
  lines.push('  local cmd="" sub="" npos=0 i w');
  lines.push('  for ((i = 1; i < COMP_CWORD; i++)); do');
  lines.push('    w="${COMP_WORDS[i]}"');
  lines.push('    case "$w" in');
  lines.push(`      ${valued.map((f) => [f.long, f.short].filter(Boolean).join('|')).join('|')}) ((i++)) ;;`);
  lines.push('      -*) ;;');
  lines.push('      *) if [[ -z "$cmd" ]]; then cmd="$w"; elif [[ -z "$sub" && " $(_kmsctl_subs "$cmd") " == *" $w "* ]]; then sub="$w"; else ((npos++)); fi ;;');
  lines.push('    esac');
  lines.push('  done');
  lines.push('  if [[ -z "$cmd" ]]; then');
  lines.push('    if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$globals --help --version" -- "$cur")); else COMPREPLY=($(compgen -W "$commands" -- "$cur")); fi');
  lines.push('    return');
  lines.push('  fi');
  lines.push('  local opts="" arg=""');
  lines.push('  case "$cmd${sub:+ $sub}" in');
  for (const c of visible) {
    const name = c.parent ? `${c.parent} ${c.name}` : c.name;
    const opts = (c.options ?? []).map(flag).map(word).join(' ');
    const arg = c.completeArg ?? (c.args ? 'file' : '');
    lines.push(`    "${name}") opts="${opts}"; arg="${arg}" ;;`);
  }
  lines.push('  esac');
  lines.push('  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts $globals --help" -- "$cur")); return; fi');
  lines.push('  if [[ -z "$sub" && -n "$(_kmsctl_subs "$cmd")" && $npos -eq 0 ]]; then COMPREPLY=($(compgen -W "$(_kmsctl_subs "$cmd")" -- "$cur")); return; fi');
  lines.push('  if [[ $npos -eq 0 ]]; then');
  lines.push('    case "$arg" in');
  lines.push('      key) COMPREPLY=($(compgen -W "$(kmsctl __aliases 2>/dev/null)" -- "$cur")) ;;');
  lines.push(`      shell) COMPREPLY=($(compgen -W "${SHELLS.join(' ')}" -- "$cur")) ;;`);
  lines.push('      file) COMPREPLY=($(compgen -f -- "$cur")) ;;');
  lines.push('    esac');
  lines.push('  fi');
  lines.push('}');
  lines.push('_kmsctl_subs() {');
  lines.push('  case "$1" in');
  for (const c of top) {
    const subs = subsOf(c.name);
    if (subs.length) lines.push(`    ${c.name}) echo "${subs.map((s) => s.name).join(' ')}" ;;`);
  }
  lines.push('  esac');
  lines.push('}');
  lines.push('complete -F _kmsctl kmsctl');
  return `${lines.join('\n')}\n`;
}

function zq(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/'/g, "'\\''").replace(/([[\]:])/g, '\\$1');
}

function zshSpec(f: Flag): string[] {
  const desc = zq(f.description);
  const value = !f.takesValue ? '' : f.choices ? `:value:(${f.choices.join(' ')})` : f.fileValue ? ':file:_files' : ':value: ';
  const names = f.short ? [f.short, f.long] : [f.long];
  return names.map((n) => `'${n}[${desc}]${value}'`);
}

function zsh(): string {
  const lines: string[] = [];
  lines.push('#compdef kmsctl', `# ${HEADER} zsh\`.`, '# Install: kmsctl completion zsh > "${fpath[1]}/_kmsctl", then restart zsh (compinit).');
  lines.push("_kmsctl_aliases() { local -a keys; keys=(${(f)\"$(kmsctl __aliases 2>/dev/null)\"}); _describe -t keys 'key' keys; }");
  lines.push('_kmsctl() {');
  lines.push(`  local -a globals; globals=(${globals.flatMap(zshSpec).join(' ')})`);
  lines.push('  local -a commands; commands=(');
  for (const c of top) lines.push(`    '${c.name}:${zq(c.summary)}'`);
  lines.push('  )');
  lines.push('  local i=2');
  lines.push('  while (( i < CURRENT )) && [[ "${words[i]}" == -* ]]; do (( i++ )); done');
  lines.push('  if (( CURRENT == i )); then _describe -t commands "kmsctl command" commands; return; fi');
  lines.push('  local cmd="${words[i]}"');
  lines.push('  shift $(( i - 1 )) words; (( CURRENT -= i - 1 ))');
  lines.push('  case "$cmd" in');
  for (const c of top) {
    const subs = subsOf(c.name);
    const opts = (c.options ?? []).map(flag).flatMap(zshSpec).join(' ');
    const arg = c.completeArg === 'key' ? "'1:key:_kmsctl_aliases'" : c.completeArg === 'shell' ? `'1:shell:(${SHELLS.join(' ')})'` : c.args ? "'1:argument:_files'" : '';
    if (subs.length) {
      lines.push(`    ${c.name})`);
      lines.push('      if (( CURRENT == 2 )); then');
      lines.push(`        local -a subs; subs=(${subs.map((s) => `'${s.name}:${zq(s.summary)}'`).join(' ')})`);
      lines.push(`        _describe -t subs '${c.name} subcommand' subs`);
      lines.push('        return');
      lines.push('      fi');
      lines.push('      case "${words[2]}" in');
      for (const s of subs) {
        const sopts = (s.options ?? []).map(flag).flatMap(zshSpec).join(' ');
        lines.push(`        ${s.name}) shift words; (( CURRENT-- )); _arguments $globals ${sopts} ${s.args ? "'*:file:_files'" : ''} ;;`);
      }
      lines.push(`        *) _arguments $globals ${opts} ;;`);
      lines.push('      esac ;;');
    } else {
      lines.push(`    ${c.name}) _arguments $globals ${opts} ${arg} ;;`);
    }
  }
  lines.push('  esac');
  lines.push('}');
  lines.push('if [[ "$funcstack[1]" == "_kmsctl" ]]; then _kmsctl "$@"; else compdef _kmsctl kmsctl; fi');
  return `${lines.join('\n')}\n`;
}

function fq(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishOpt(cond: string, f: Flag): string {
  const parts = ['complete -c kmsctl', `-n ${fq(cond)}`, `-l ${f.long.slice(2)}`];
  if (f.short) parts.push(`-s ${f.short.slice(1)}`);
  if (f.takesValue) parts.push(f.choices ? `-xa ${fq(f.choices.join(' '))}` : f.fileValue ? '-rF' : '-x');
  parts.push(`-d ${fq(f.description)}`);
  return parts.join(' ');
}

function fish(): string {
  const lines: string[] = [`# ${HEADER} fish\`.`, '# Install: kmsctl completion fish > ~/.config/fish/completions/kmsctl.fish', 'complete -c kmsctl -f'];
  const names = top.map((c) => c.name).join(' ');
  for (const f of globals) lines.push(fishOpt('true', f));
  for (const c of top) lines.push(`complete -c kmsctl -n ${fq(`not __fish_seen_subcommand_from ${names}`)} -a ${c.name} -d ${fq(c.summary)}`);
  for (const c of top) {
    const seen = `__fish_seen_subcommand_from ${c.name}`;
    const subs = subsOf(c.name);
    for (const s of subs) {
      lines.push(`complete -c kmsctl -n ${fq(`${seen}; and not __fish_seen_subcommand_from ${subs.map((x) => x.name).join(' ')}`)} -a ${s.name} -d ${fq(s.summary)}`);
      for (const o of (s.options ?? []).map(flag)) lines.push(fishOpt(`${seen}; and __fish_seen_subcommand_from ${s.name}`, o));
    }
    for (const o of (c.options ?? []).map(flag)) lines.push(fishOpt(seen, o));
    if (c.completeArg === 'key') lines.push(`complete -c kmsctl -n ${fq(seen)} -a ${fq('(kmsctl __aliases 2>/dev/null)')}`);
    if (c.completeArg === 'shell') lines.push(`complete -c kmsctl -n ${fq(seen)} -a ${fq(SHELLS.join(' '))}`);
    if (!c.completeArg && c.args) lines.push(`complete -c kmsctl -n ${fq(seen)} -F`);
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell): string {
  return shell === 'bash' ? bash() : shell === 'zsh' ? zsh() : fish();
}

export const COMPLETION_FILES: Record<Shell, string> = { bash: 'completions/kmsctl.bash', zsh: 'completions/_kmsctl', fish: 'completions/kmsctl.fish' };

export type { CommandSpec };
