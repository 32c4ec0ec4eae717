export { Trainer, type EpochResult, type Evaluation, type Variable } from './trainer/trainer.js';
export { OptionError, type TrainerOptions, type ResolvedOptions } from './options.js';
export { loadDataset, defaultDataDir, type Dataset, type Split } from './data/dataset.js';
export { DataFileError } from './data/idx.js';
export type { BackendName, BackendRequest } from './backend.js';
export type { GradientMode } from './trainer/session.js';
