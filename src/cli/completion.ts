import { Argument, type Command } from "commander";
import { toolVersion } from "../package-info.js";
import { examples } from "./examples.js";

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description(
      "print a shell completion script (commands, subcommands, flags and their choices); load it with: source <(hcp-etcd-backup completion bash)",
    )
    .addArgument(new Argument("<shell>", "the shell: bash or zsh").choices(["bash", "zsh"]))
    .addHelpText(
      "after",
      examples(
        [
          "Completion for bash, from every new shell on (then: source it, or open a new shell)",
          "completion bash > ~/.local/share/bash-completion/completions/hcp-etcd-backup",
        ],
        [
          "Completion for zsh: a file named _hcp-etcd-backup in a directory on $fpath",
          "completion zsh > ~/.zfunc/_hcp-etcd-backup",
        ],
      ),
    )
    .action(async (shell: "bash" | "zsh") => {
      // Generated when asked, from the whole tree: every command registered, this one included.
      const { bashScript, zshScript } = await import("./completion-script.js");
      process.stdout.write((shell === "bash" ? bashScript : zshScript)(program, toolVersion()));
    });
}
