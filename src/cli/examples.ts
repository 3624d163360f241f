/**
 * kubectl-style examples for the end of a command's help (`.addHelpText("after", examples(...))`):
 * a comment saying what it does, then the command line, ready to adapt and paste.
 */
export function examples(...items: ReadonlyArray<readonly [what: string, args: string]>): string {
  return `\nExamples:\n${items.map(([what, args]) => `  # ${what}\n  hcp-etcd-backup ${args}`).join("\n\n")}`;
}
