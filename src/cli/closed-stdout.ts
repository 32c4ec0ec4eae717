/**
 * Note [a closed stdout]: `npm run train | head -3` closes the pipe after three
 * lines, and the next write to stdout fails with EPIPE, an 'error' event that
 * would end the process before the run saves its model. A reader that leaves
 * ends the output, not the run: once stdout is closed nothing more is written to
 * it, training goes on, the model and run folder are written, and the exit
 * status is the run's. Any other stdout error stays fatal.
 * test/cli.test.ts pipes a run into a reader that closes after one line.
 */
export function outliveClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
