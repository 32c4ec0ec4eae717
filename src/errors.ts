/** A value as an option message quotes it: strings quoted, functions named as such. */
export function showValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'function' ? 'a function' : String(v);
}

/** A bad option value. `message` is one line naming the option and what it accepts. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}
