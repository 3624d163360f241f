import { hostname } from "node:os";
import { z } from "zod";
import { UsageError } from "../errors.js";

/**
 * The journal: written as an annotation on the HostedCluster before the backup changes anything,
 * updated as it pauses and scales, removed once the cluster is back. It holds everything `resume`
 * needs to put the cluster back exactly as it was after a crash, and it is the lock: a second
 * backup of the same cluster sees a fresh journal and stops.
 */
export const JOURNAL_ANNOTATION = "hcp-etcd-backup/journal";

const writerSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  /** Replicas before the backup scaled it; what resume restores. */
  replicas: z.number().int().nonnegative(),
});

export const journalSchema = z.object({
  version: z.literal(1),
  runId: z.string().min(1),
  holder: z.object({ user: z.string(), host: z.string(), pid: z.number().int() }),
  startedAt: z.string(),
  /** After this the lock is stale: the run is presumed dead (its pause has expired by then too). */
  lockExpiresAt: z.string(),
  mode: z.enum(["quiesced", "online"]),
  original: z.object({
    /** `null`: the field was absent, and resume removes it again (JSON null, never "" or "null"). */
    pausedUntil: z.string().nullable(),
    writers: z.array(writerSchema),
  }),
  /** What this run has changed so far: resume undoes exactly that. */
  changed: z.object({
    pausedUntil: z.string().optional(),
    scaledWriters: z.array(z.string()),
  }),
});

export type Journal = z.infer<typeof journalSchema>;
export type JournalWriter = z.infer<typeof writerSchema>;

export function serializeJournal(j: Journal): string {
  return JSON.stringify(journalSchema.parse(j));
}

/** The journal in an annotation value; a value that is not ours is reported, not guessed at. */
export function parseJournal(value: string, where: string): Journal {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new UsageError(
      `the ${JOURNAL_ANNOTATION} annotation on ${where} is not JSON: remove it by hand if no backup runs`,
    );
  }
  const parsed = journalSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(
      `the ${JOURNAL_ANNOTATION} annotation on ${where} is not a journal this tool wrote (${issue?.path.join(".")}: ${issue?.message})`,
    );
  }
  return parsed.data;
}

/** A journal whose lock has not expired: another backup may still be running. */
export function isLockFresh(j: Journal, now: Date): boolean {
  return new Date(j.lockExpiresAt) > now;
}

/** Where `resume` runs: its host name, and whether a process id on this host is alive. */
export interface ResumeHost {
  readonly host: string;
  readonly isAlive: (pid: number) => boolean;
}

/**
 * Why resuming now could undo a backup that is still running — its lock is fresh and its process
 * is alive on this host, or on another host where we cannot tell — or undefined when it is safe:
 * the lock expired, or its process on this host is gone (the usual case: Ctrl-C or kill, then resume).
 */
export function runningHolder(j: Journal, now: Date, here: ResumeHost): string | undefined {
  if (!isLockFresh(j, now)) return undefined;
  const who = `backup run ${j.runId} by ${j.holder.user}@${j.holder.host} (pid ${j.holder.pid})`;
  if (j.holder.host === here.host)
    return here.isAlive(j.holder.pid) ? `${who} is still running on this host` : undefined;
  return `${who} holds the lock until ${j.lockExpiresAt} and may still be running`;
}

export function thisHost(): ResumeHost {
  return {
    host: hostname(),
    // Signal 0 only asks whether the process exists; EPERM means it does, under another user.
    isAlive: (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
      }
    },
  };
}
