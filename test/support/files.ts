import { open } from "node:fs/promises";

/** Flips bits of one byte of a file in place (`mask` picks which): the smallest possible corruption. */
export async function flipByte(file: string, offset: number, mask = 0x01): Promise<void> {
  const fh = await open(file, "r+");
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = (b[0] as number) ^ mask;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}
