import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peerBlas, ratioCell, ratioValidity, REFERENCE_BLAS_FIX } from '../../bench/peer-blas.ts';
import { ALL_TRAIN_SIZES, PAPER_SIZES, TRAIN_SIZES, resolveSizes } from '../../bench/sizes.ts';

// `info` replies of bench/torch_peer.py as measured on this machine: Debian's OpenBLAS, and netlib's
// libblas.so.3 put first on LD_LIBRARY_PATH while OpenBLAS is still mapped through liblapack.so.3.
const openblasInfo = (core: string) => ({
  torch: '1.13.0a0',
  blas: {
    libraries: ['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3'],
    libblas: '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
    openblas: true,
    corename: core,
    config: 'OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64',
    reference_blas: false,
  },
});
const referenceInfo = {
  torch: '1.13.0a0',
  blas: {
    libraries: ['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0'],
    libblas: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0',
    openblas: true,
    reference_blas: true,
  },
};

test('peerBlas reports the library and both processes’ OpenBLAS cores', () => {
  const blas = peerBlas(openblasInfo('Haswell'), openblasInfo('Cooperlake'));
  assert.deepEqual(blas, {
    library: 'OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64',
    core: 'Haswell',
    core_openblas_unset: 'Cooperlake',
    reference: false,
  });
  assert.deepEqual(ratioValidity(blas, false), { ratioValid: true });
});

test('a peer on the reference BLAS is refused with the apt command, or allowed with invalid ratios', () => {
  const blas = peerBlas(referenceInfo, referenceInfo);
  assert.equal(blas.reference, true);
  assert.equal(blas.library, '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0');
  assert.equal(blas.core, null);
  assert.throws(
    () => ratioValidity(blas, false),
    (error: Error) =>
      error.message.includes(REFERENCE_BLAS_FIX) && error.message.includes('--allow-reference-blas'),
  );
  assert.deepEqual(ratioValidity(blas, true), { ratioValid: false });
  // Either process on the reference BLAS makes the peer broken.
  assert.equal(peerBlas(openblasInfo('Haswell'), referenceInfo).reference, true);
});

test('peerBlas refuses an info reply without blas', () => {
  assert.throws(() => peerBlas({ torch: '1.13' }, openblasInfo('Haswell')), /torch: .*no blas/);
});

test('ratio cells carry INVALID when the peer is broken', () => {
  assert.equal(ratioCell(31.234, true), '31.23');
  assert.equal(ratioCell(31.234, false), '31.23 INVALID');
  assert.equal(ratioCell(Number.NaN, true), '—');
});

test('bench sizes: all, lists, and an unknown name refused with the list of sizes', () => {
  assert.deepEqual(resolveSizes('all'), [...TRAIN_SIZES]);
  assert.deepEqual(resolveSizes('world,small,world'), ['world', 'small']);
  assert.throws(
    () => resolveSizes('small,qwen-7b'),
    (error: Error) =>
      error.message.includes(`"qwen-7b"`) &&
      [...ALL_TRAIN_SIZES, ...PAPER_SIZES].every((size) => error.message.includes(size)),
  );
});
