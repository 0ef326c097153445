// Child process for the killed-import test: imports FILE into DB and, once every row is written but
// before the transaction commits, prints "started" and blocks until it is killed.
import { writeSync } from 'node:fs';
import { FactStore } from '../../src/memory/store.ts';

const [db, file] = process.argv.slice(2);
if (db === undefined || file === undefined) throw new Error('usage: import-child.ts DB FILE');
const store = FactStore.open(db);
store.importJsonl(file, {
  onProgress(written, total) {
    if (written < total) return;
    writeSync(1, 'started\n');
    // Blocks this thread for good, inside the open write transaction.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  },
});
throw new Error('import-child: the import committed; it should have been killed before');
