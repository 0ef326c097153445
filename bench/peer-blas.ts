// The PyTorch peer's BLAS, as every bench row reports it, and the rule that keeps the bench from
// printing a ratio against a peer on netlib's reference BLAS (~6 GFLOP/s SGEMM instead of ~170).
import type { Reply } from './protocol.ts';

/** The apt command that gives Debian's python3-torch an optimised libblas.so.3. */
export const REFERENCE_BLAS_FIX = 'apt-get install -y libopenblas0-pthread';

/** What every JSON row carries about the peer's BLAS (both of its processes). */
export interface PeerBlas {
  /** OpenBLAS's config string, else the libblas.so.3 PyTorch's GEMMs bind to, else "unknown". */
  library: string;
  /** OpenBLAS's kernel core with the machine's environment (null when not OpenBLAS). */
  core: string | null;
  /** The core OpenBLAS picks with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (the `best` process). */
  core_openblas_unset: string | null;
  /** True when the peer's GEMMs run on the netlib reference BLAS. */
  reference: boolean;
}

interface BlasReply {
  libblas?: string | null;
  config?: string;
  corename?: string;
  reference_blas?: boolean;
}

function blasOf(info: Reply, label: string): BlasReply {
  const blas = info.blas;
  if (typeof blas !== 'object' || blas === null)
    throw new Error(`${label}: the peer's info reply has no blas`);
  return blas as BlasReply;
}

/** Combines the `info` replies of the peer's two processes (machine environment, OPENBLAS_* unset). */
export function peerBlas(torchInfo: Reply, bestInfo: Reply): PeerBlas {
  const torch = blasOf(torchInfo, 'torch');
  const best = blasOf(bestInfo, 'torch (OPENBLAS_* unset)');
  return {
    library: torch.config ?? torch.libblas ?? 'unknown',
    core: torch.corename ?? null,
    core_openblas_unset: best.corename ?? null,
    reference: Boolean(torch.reference_blas) || Boolean(best.reference_blas),
  };
}

/**
 * Whether the bench may go on against this peer, and whether its ratios mean anything. A reference
 * BLAS refuses the run (an Error naming the fix) unless `allowReference`, which keeps it going with every
 * ratio marked invalid.
 */
export function ratioValidity(blas: PeerBlas, allowReference: boolean): { ratioValid: boolean } {
  if (!blas.reference) return { ratioValid: true };
  if (allowReference) return { ratioValid: false };
  throw new Error(
    `PyTorch is running on the netlib reference BLAS (${blas.library}), so every rlcp/PyTorch ratio ` +
      `would flatter rlcp many times over. Fix: ${REFERENCE_BLAS_FIX} (or --torch-blas DIR, see ` +
      'bench/README.md); --allow-reference-blas goes on and marks every ratio invalid.',
  );
}

/** A ratio cell of the console tables: the number, or the number flagged when the peer is broken. */
export function ratioCell(ratio: number, ratioValid: boolean, digits = 2): string {
  const text = Number.isFinite(ratio) ? ratio.toFixed(digits) : '—';
  return ratioValid ? text : `${text} INVALID`;
}
