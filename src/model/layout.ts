import type { VariableSpec } from './types.js';

/**
 * The flat parameter layout: variables end to end, in declaration order, each
 * row-major. One contiguous Float32 vector is what lets the all-reduce and the
 * optimizer ignore model structure: they only see [0, size).
 */
export interface Segment extends VariableSpec {
  readonly offset: number;
  readonly size: number;
}

export interface ParamLayout {
  readonly segments: readonly Segment[];
  readonly size: number;
}

export function makeLayout(variables: readonly VariableSpec[]): ParamLayout {
  const segments: Segment[] = [];
  let offset = 0;
  for (const v of variables) {
    const size = v.shape.reduce((a, b) => a * b, 1);
    segments.push({ name: v.name, shape: [...v.shape], offset, size });
    offset += size;
  }
  return { segments, size: offset };
}
