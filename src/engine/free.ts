/** Returning large buffers' memory to the system without waiting for the garbage collector. */
import { MessageChannel } from 'node:worker_threads';

/**
 * Gives these arrays' memory back now instead of at some later garbage collection, where a model's
 * weights can wait for a whole run: transferring a buffer to a closed channel detaches and frees it.
 * Only arrays that span their whole buffer are freed (a view may share its buffer with others); the
 * freed ones read as empty afterwards.
 */
export function freeNow(arrays: readonly ArrayBufferView[]): void {
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) {
    if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) buffers.add(a.buffer);
  }
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, [...buffers]);
  port1.close();
  port2.close();
}
