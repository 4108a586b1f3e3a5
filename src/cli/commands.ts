// The command table: every subcommand's spec in the order help lists them, plus `completion`, generated from it.
import { UsageError } from "../errors.ts";
import { parse } from "./args.ts";
import { catCommand } from "./cat.ts";
import { checkConfigCommand } from "./check-config.ts";
import { completeCommand } from "./complete.ts";
import { completionScript, SHELLS, type Shell } from "./completion.ts";
import { pushCommand } from "./push.ts";
import { runCommand } from "./run.ts";
import { serveCommand } from "./serve.ts";
import { type Command, type Flags, usageHint } from "./spec.ts";
import { tailCommand } from "./tail.ts";

const COMPLETION_FLAGS = {} as const satisfies Flags;

export const completionCommand: Command = {
  name: "completion",
  summary: "print a shell completion script (bash, zsh, fish)",
  args: SHELLS.join("|"),
  positional: "choices",
  choices: SHELLS,
  flags: COMPLETION_FLAGS,
  example: "source <(stroem-logs completion bash)    # or: stroem-logs completion fish | source",
  notes: `zsh: source <(stroem-logs completion zsh) after compinit, or save it as _stroem-logs in $fpath.
bash: save it under /etc/bash_completion.d/ (or ~/.local/share/bash-completion/completions/stroem-logs).`,
  async run(argv) {
    const { positionals } = parse(argv, COMPLETION_FLAGS, completionCommand);
    const shell = positionals[0];
    if (positionals.length !== 1 || !(SHELLS as readonly string[]).includes(shell!))
      throw new UsageError(
        `expected one shell: ${SHELLS.join(", ")}${shell === undefined ? "" : ` (got ${positionals.join(" ")})`}\n${usageHint(completionCommand)}`,
      );
    process.stdout.write(completionScript(shell as Shell, COMMANDS));
    return 0;
  },
};

export const COMMANDS: readonly Command[] = [
  serveCommand,
  checkConfigCommand,
  catCommand,
  tailCommand,
  completeCommand,
  runCommand,
  pushCommand,
  completionCommand,
];
