// Loads rlcp's native addon (native/*.cc), which `npm ci` builds into build/Release with node-gyp
// (g++, make and python3, as for better-sqlite3). ./native.ts and ./onnx.ts wrap what it exports.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ADDON_PATH = fileURLToPath(new URL('../../../build/Release/rlcp_kernels.node', import.meta.url));

let addon: unknown = null;

/** The addon's exports (loaded on first use), typed by the caller. */
export function loadAddon<T>(): T {
  if (addon === null) {
    try {
      addon = createRequire(import.meta.url)(ADDON_PATH);
    } catch (error) {
      throw new Error(
        `rlcp's native kernels are not built (${ADDON_PATH}: ${(error as Error).message}). ` +
          'Run `npm ci` (or `npm rebuild`) in the rlcp checkout; building needs g++, make and python3.',
      );
    }
  }
  return addon as T;
}
