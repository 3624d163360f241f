/**
 * Why an etcd container stopped, from its log: etcd (3.4 with --logger=zap, and 3.5+) writes one
 * JSON object a line, so the last fatal, panic or error entry says why; text logs give their last line.
 */
export function diagnoseEtcdLog(log: string): string {
  const lines = log.split("\n").filter((l) => l.trim() !== "");
  let why = "";
  for (const line of [...lines].reverse()) {
    const entry = parseEntry(line);
    if (entry && /^(fatal|panic|error)$/.test(entry.level ?? "")) {
      why = [entry.msg, entry.error].filter(Boolean).join(": ");
      break;
    }
  }
  if (why === "") why = (lines.at(-1) ?? "").trim();
  why = why.slice(0, 300);
  if (
    /permanently removed from the cluster|has already been bootstrapped|cluster ID mismatch|member count is unequal/.test(
      why,
    )
  )
    return `${why} — this member's data does not fit the cluster (a member removed and re-added with a new ID after the restore, OCPBUGS-99310): restore again`;
  return why === "" ? "no output" : why;
}

function parseEntry(line: string): { level?: string; msg?: string; error?: string } | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line) as Record<string, unknown>;
    const str = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : undefined);
    return { level: str("level"), msg: str("msg"), error: str("error") };
  } catch {
    return undefined;
  }
}
