#!/usr/bin/env node
/**
 * `npm run train -- [flags]`: CLI -> Trainer (coordinator) -> pool -> workers.
 * Exit codes: 0 done, 2 bad input (a flag, an option, a data file), 1 anything else.
 */
import { availableParallelism } from 'node:os';
import { DataFileError } from '../data/idx.js';
import { OptionError } from '../options.js';
import { Trainer } from '../trainer/trainer.js';
import { USAGE, parseCommand } from './args.js';

async function main(argv: readonly string[]): Promise<number> {
  const cmd = parseCommand(argv);
  if (cmd.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const { workers } = cmd.options;
  if (workers !== undefined && workers > availableParallelism()) {
    console.error(`warning: ${workers} workers on ${availableParallelism()} cores: threads will share cores and run slower`);
  }
  await using trainer = await Trainer.create(cmd.options);
  const o = trainer.options;
  const sizes = [trainer.dataset.train.features, ...o.hidden, trainer.dataset.numClasses].join('-');
  console.log(
    `worker-ddp: ${trainer.workers} worker${trainer.workers > 1 ? 's' : ''}, backend ${trainer.backend}, MLP ${sizes}, ` +
      `batch ${o.batchSize}, lr ${o.lr}, seed ${o.seed}, ${o.epochs} epochs, data ${trainer.dataset.dir}`,
  );
  let last;
  for await (const e of trainer.fit()) {
    last = e;
    console.log(
      `epoch ${e.epoch}/${o.epochs}  loss ${e.loss.toFixed(4)}  ${Math.round(e.samplesPerSecond)} samples/s  ` +
        `${e.seconds.toFixed(2)} s  test accuracy ${(100 * e.test.accuracy).toFixed(2)}%`,
    );
  }
  if (last !== undefined) {
    const t = last.test;
    console.log(`test accuracy ${(100 * t.accuracy).toFixed(2)}% (${Math.round(t.accuracy * t.count)}/${t.count}), test loss ${t.loss.toFixed(4)}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const bad = err instanceof OptionError || err instanceof DataFileError;
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = bad ? 2 : 1;
  },
);
