// Where a tail read of a local log begins: found by reading the file backwards, holding one block at a time.

/**
 * Where the last `tail` matching lines at or after `from` begin, found by reading a local file backwards
 * from `end` in blocks — so a tail of a huge log costs what the tail costs, and holds one block and one
 * line, never the lines themselves. `from` when fewer lines match. `totalLines` numbers the lines.
 */
export async function tailStart(
  path: string,
  end: number,
  totalLines: number,
  tail: number,
  from: number,
  match: ((text: string) => boolean) | null,
): Promise<number> {
  if (tail <= 0) return Math.max(from, totalLines);
  const file = Bun.file(path);
  const decoder = new TextDecoder();
  const block = 256 * 1024;
  let pos = end;
  let carry: Uint8Array = new Uint8Array(0); // bytes of a line cut by the block boundary
  let num = totalLines; // number of the line after the one being examined
  let found = 0;
  const hit = (bytes: Uint8Array): boolean => {
    num--;
    if (num < from) return false;
    if (match === null || match(decoder.decode(bytes))) found++;
    return found < tail;
  };
  while (pos > 0 && num > from) {
    const size = Math.min(block, pos);
    pos -= size;
    const buf = await file.slice(pos, pos + size).bytes();
    let data =
      carry.length > 0 ? Buffer.concat([buf, carry]) : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    // Drop the newline that ends the file's last line.
    if (pos + size === end && data[data.length - 1] === 10) data = data.subarray(0, data.length - 1);
    let stop = data.length;
    for (
      let i = data.lastIndexOf(10, stop - 1);
      i !== -1;
      i = stop > 0 ? data.lastIndexOf(10, stop - 1) : -1
    ) {
      if (!hit(data.subarray(i + 1, stop))) return Math.max(num, from);
      stop = i;
    }
    carry = Uint8Array.prototype.slice.call(data, 0, stop);
    if (pos === 0 && !hit(carry)) return Math.max(num, from);
  }
  return from;
}
