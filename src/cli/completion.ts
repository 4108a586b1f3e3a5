// Shell completion scripts (bash, zsh, fish) generated from the command table: subcommands, flags, their values.
import type { Command, Flag } from "./spec.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

const longs = (c: Command) => [
  ...Object.entries(c.flags).flatMap(([n, f]) => (f.short ? [`--${n}`, `-${f.short}`] : [`--${n}`])),
  "--help",
];

function bash(commands: readonly Command[]): string {
  const valueCases: string[] = [];
  for (const c of commands) {
    for (const [name, f] of Object.entries(c.flags)) {
      if (f.type === "boolean") continue;
      const words = f.short ? `"${c.name} --${name}"|"${c.name} -${f.short}"` : `"${c.name} --${name}"`;
      const reply = f.choices
        ? `COMPREPLY=($(compgen -W "${f.choices.join(" ")}" -- "$cur"))`
        : f.complete === "file"
          ? `COMPREPLY=($(compgen -f -- "$cur"))`
          : f.complete === "dir"
            ? `COMPREPLY=($(compgen -d -- "$cur"))`
            : "COMPREPLY=()";
      valueCases.push(`    ${words}) ${reply}; return ;;`);
    }
  }
  const flagCases = commands.map((c) => `    ${c.name}) flags="${longs(c).join(" ")}" ;;`);
  const positionalCases = commands.map((c) => {
    const reply =
      c.positional === "file"
        ? `COMPREPLY=($(compgen -f -- "$cur"))`
        : c.positional === "choices"
          ? `COMPREPLY=($(compgen -W "${(c.choices ?? []).join(" ")}" -- "$cur"))`
          : "COMPREPLY=()";
    return `    ${c.name}) ${reply} ;;`;
  });
  return `# bash completion for stroem-logs: source <(stroem-logs completion bash)
_stroem_logs() {
  local cur prev cmd flags i j
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # --flag=value: bash splits at the =
  if [[ $cur == = ]]; then cur=""; fi
  if [[ $prev == = && $COMP_CWORD -ge 2 ]]; then prev="\${COMP_WORDS[COMP_CWORD-2]}"; fi
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(" ")} --help --version" -- "$cur"))
    return
  fi
  for ((j = i + 1; j < COMP_CWORD; j++)); do
    if [[ \${COMP_WORDS[j]} == -- ]]; then
      if [[ $cmd == run ]]; then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=(); fi
      return
    fi
  done
  case "$cmd $prev" in
${valueCases.join("\n")}
  esac
  if [[ $cur == -* ]]; then
    case "$cmd" in
${flagCases.join("\n")}
    esac
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case "$cmd" in
${positionalCases.join("\n")}
  esac
}
complete -F _stroem_logs stroem-logs
`;
}

/** Text inside a single-quoted zsh word, in an _arguments `[description]`. */
const zq = (s: string) =>
  s.replaceAll("'", "'\\''").replaceAll("[", "\\[").replaceAll("]", "\\]").replaceAll(":", "\\:");

function zshFlag(name: string, f: Flag): string[] {
  const rep = f.multiple ? "*" : "";
  const action =
    f.type === "boolean"
      ? ""
      : `:${zq(f.arg ?? name).replaceAll(" ", "_")}:${
          f.choices
            ? `(${f.choices.join(" ")})`
            : f.complete === "file"
              ? "_files"
              : f.complete === "dir"
                ? "_files -/"
                : " "
        }`;
  const eq = f.type === "boolean" ? "" : "=";
  const out = [`'${rep}--${name}${eq}[${zq(f.help)}]${action}'`];
  if (f.short) out.push(`'${rep}-${f.short}[${zq(f.help)}]${action}'`);
  return out;
}

function zsh(commands: readonly Command[]): string {
  const list = commands.map((c) => `    '${c.name}:${zq(c.summary)}'`).join("\n");
  const cases = commands.map((c) => {
    const specs = [
      ...Object.entries(c.flags).flatMap(([n, f]) => zshFlag(n, f)),
      "'(- *)'{-h,--help}'[print this help]'",
    ];
    if (c.positional === "file") specs.push("'1:file:_files'");
    else if (c.positional === "choices") specs.push(`'1:${c.name}:(${(c.choices ?? []).join(" ")})'`);
    else if (c.positional === "command") specs.push("'*::command:_normal'");
    return `    ${c.name})\n      _arguments -s \\\n        ${specs.join(" \\\n        ")}\n      ;;`;
  });
  return `#compdef stroem-logs
# zsh completion for stroem-logs: source <(stroem-logs completion zsh) after compinit,
# or save as _stroem-logs in a directory of $fpath.
_stroem_logs() {
  local -a commands
  commands=(
${list}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'stroem-logs command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join("\n")}
  esac
}
if [[ $funcstack[1] == _stroem_logs ]]; then _stroem_logs "$@"; else compdef _stroem_logs stroem-logs; fi
`;
}

/** Text inside a single-quoted fish word. */
const fq = (s: string) => s.replaceAll("\\", "\\\\").replaceAll("'", "\\'");

function fish(commands: readonly Command[]): string {
  const lines = [
    "# fish completion for stroem-logs: stroem-logs completion fish | source",
    "# (or save it as ~/.config/fish/completions/stroem-logs.fish)",
    "complete -c stroem-logs -f",
    "complete -c stroem-logs -n __fish_use_subcommand -l help -s h -d 'list the commands'",
    "complete -c stroem-logs -n __fish_use_subcommand -l version -d 'print the version'",
  ];
  for (const c of commands)
    lines.push(`complete -c stroem-logs -n __fish_use_subcommand -a ${c.name} -d '${fq(c.summary)}'`);
  for (const c of commands) {
    const when = `-n '__fish_seen_subcommand_from ${c.name}'`;
    for (const [name, f] of Object.entries(c.flags)) {
      const short = f.short ? ` -s ${f.short}` : "";
      const value =
        f.type === "boolean"
          ? ""
          : f.choices
            ? ` -x -a '${f.choices.join(" ")}'`
            : f.complete === "file"
              ? " -r -F"
              : f.complete === "dir"
                ? " -x -a '(__fish_complete_directories)'"
                : " -x";
      lines.push(`complete -c stroem-logs ${when} -l ${name}${short}${value} -d '${fq(f.help)}'`);
    }
    lines.push(`complete -c stroem-logs ${when} -l help -s h -d 'print this help'`);
    if (c.positional === "file") lines.push(`complete -c stroem-logs ${when} -F`);
    else if (c.positional === "choices")
      lines.push(`complete -c stroem-logs ${when} -a '${(c.choices ?? []).join(" ")}'`);
    else if (c.positional === "command")
      lines.push(
        `complete -c stroem-logs -n '__fish_seen_subcommand_from ${c.name}; and contains -- -- (commandline -opc)' -a '(__fish_complete_command)'`,
      );
  }
  return `${lines.join("\n")}\n`;
}

export function completionScript(shell: Shell, commands: readonly Command[]): string {
  return shell === "bash" ? bash(commands) : shell === "zsh" ? zsh(commands) : fish(commands);
}
