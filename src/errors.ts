/** A bad option value. `message` is one line naming the option and what it accepts. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}
