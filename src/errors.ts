/** A value as an option message quotes it: strings quoted, short arrays as JSON, functions, tensors and objects by kind. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v !== 'object' || v === null) return String(v);
  if (isTensor(v)) return `a ${v.dtype} tensor of shape [${v.shape.join(', ')}]`;
  if (Array.isArray(v)) {
    const shown = v.every((e) => typeof e !== 'object' || e === null) ? JSON.stringify(v) : undefined;
    return shown !== undefined && shown.length <= 60 ? shown : `an array of ${v.length}`;
  }
  const kind = (v as object).constructor?.name;
  return kind === undefined || kind === 'Object' ? 'an object' : `a ${kind}`;
}

/** A tf.Tensor, told by its fields (this module imports no tfjs). */
function isTensor(v: object): v is { dtype: string; shape: readonly number[] } {
  return 'dtype' in v && 'shape' in v && Array.isArray((v as { shape: unknown }).shape);
}

/** A bad option value. `message` is one line naming the option and what it accepts. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}
