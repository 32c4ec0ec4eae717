/** A Piscina task that does nothing: bench/micro.ts times the round trip alone. */
export default function noop(): null {
  return null;
}
