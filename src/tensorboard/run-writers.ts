import { join } from 'node:path';
import { EventWriter } from './event-writer.js';

/**
 * The event files of one log folder, one writer per run (a sub-folder such as `train`
 * or `val`), each created at its first use.
 */
export class RunWriters {
  private readonly writers = new Map<string, EventWriter>();

  constructor(readonly logdir: string) {}

  /** The writer of `run`, created (with its file) if there is none yet. */
  get(run: string): EventWriter {
    let w = this.writers.get(run);
    if (w === undefined) {
      w = new EventWriter(join(this.logdir, run));
      this.writers.set(run, w);
    }
    return w;
  }

  /** Writes what every writer buffers; throws the first write error. */
  flush(): void {
    for (const w of this.writers.values()) w.flush();
  }

  /**
   * Closes every writer, each writing what it buffers; throws the first error, once all
   * are closed. A later get() starts a new file.
   */
  close(): void {
    const writers = [...this.writers.values()];
    this.writers.clear();
    let error: unknown;
    for (const w of writers) {
      try {
        w.close();
      } catch (e) {
        error ??= e;
      }
    }
    if (error !== undefined) throw error;
  }
}
