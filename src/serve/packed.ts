/** Byte strings stored end to end in one Buffer: piece i runs from starts[i] to starts[i + 1]. */
export interface PackedBytes {
  bytes: Buffer;
  starts: Int32Array;
}

export function packBytes(pieces: readonly Buffer[]): PackedBytes {
  const starts = new Int32Array(pieces.length + 1);
  pieces.forEach((piece, i) => (starts[i + 1] = starts[i] + piece.length));
  return { bytes: Buffer.concat(pieces), starts };
}
