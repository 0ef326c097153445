// Every `--method` of `rlcp metabolize`, each defined in its own file (see ./types.ts). RLCP, Unlikelihood
// and Just-RAG have no forget term of their own: theirs are the trainer's config-driven terms.
import type { Method } from '../config.ts';
import { ga, graddiff } from './ga.ts';
import { leace } from './leace.ts';
import { npo } from './npo.ts';
import { regen } from './regen.ts';
import { rmu } from './rmu.ts';
import { simnpo } from './simnpo.ts';
import type { UnlearnMethod } from './types.ts';

export const UNLEARN_METHODS: Record<Method, UnlearnMethod> = {
  rlcp: { overlay: {} },
  // Same anchors as RLCP; the forget stream's only term is unlikelihood.
  unlikelihood: { overlay: { fact: { lambda: 0, generic: 0, unlikelihood: 1 } } },
  ga,
  graddiff,
  npo,
  simnpo,
  rmu,
  leace,
  regen,
  // Just-RAG: no training; the model is copied and evaluation supplies the facts in context.
  rag: { overlay: { steps: 0, fact: { lambda: 0, generic: 0 } } },
};
