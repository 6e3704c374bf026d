import { readFileSync } from 'node:fs';

const compiled = new Map<string, WebAssembly.Module>();
const PAGE = 65536;

/** The WebAssembly module at `url` (a .wasm that `npm run build` assembles from its .wat), compiled once per process. */
export function wasmModule(url: URL): WebAssembly.Module {
  let module = compiled.get(url.href);
  if (!module) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(url));
    } catch (error) {
      throw new Error(`the WebAssembly module ${url.pathname} is missing; build it with npm run build (${(error as Error).message})`, { cause: error });
    }
    module = new WebAssembly.Module(bytes);
    compiled.set(url.href, module);
  }
  return module;
}

/** Grows `memory` to at least `bytes`; whether it grew (views of its old buffer are then detached). */
export function reserveMemory(memory: WebAssembly.Memory, bytes: number): boolean {
  const short = bytes - memory.buffer.byteLength;
  if (short <= 0) return false;
  memory.grow(Math.ceil(short / PAGE));
  return true;
}
