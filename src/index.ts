export {
  Trainer,
  NonFiniteError,
  StepFailedError,
  type EpochResult,
  type Evaluation,
  type FitHooks,
  type Variable,
  type ModelSource,
} from './trainer/trainer.js';
export { CheckpointError, readCheckpoint, type Checkpoint, type CheckpointHeader, type Recipe } from './checkpoint.js';
export type { Fault, FaultKind } from './faults.js';
export { OptionError, type TrainerOptions, type ResolvedOptions } from './options.js';
export { ProcessGroup } from './collective/group.js';
export type { MpiBinding } from './collective/native.js';
export {
  optimizerFromName,
  optimizerFromTfjs,
  stateVectors,
  type OptimizerName,
  type OptimizerSpec,
} from './optim/spec.js';
export type { Range } from './partition.js';
export { loadDataset, defaultDataDir, type Dataset, type Split } from './data/dataset.js';
export { DataFileError } from './data/idx.js';
export { csvDataset, type CsvOptions } from './data/csv.js';
export { imageFolder, type ImageFolderOptions } from './data/image-folder.js';
export {
  imageFolderDataset,
  type ImageBatch,
  type ImageFolderDataset,
  type ImageFolderDatasetOptions,
} from './data/image-stream.js';
export { Samples, holdOut, toDataset, type SampleArray } from './data/samples.js';
export { initBackend, type BackendName, type BackendRequest } from './backend.js';
export { registerWasmTrainingKernels } from './tfjs-kernels/register.js';
export type { GradientMode } from './trainer/session.js';
export { saveModel, loadModel, trainableParams, MODEL_JSON, WEIGHTS_BIN, type SavedModel } from './io/model-file.js';
export { ModelFileError } from './io/model-error.js';
export { tutorialMlp, type MlpConfig } from './model/tutorial-mlp.js';
export { fitParallel, type FitParallelArgs } from './fit/fit-parallel.js';
export type { History, FitParams } from './fit/epochs.js';
export { fitDatasetParallel, type FitDatasetParallelArgs, type FitDatasetParams } from './fit/fit-dataset.js';
export { DatasetError, type BatchSource } from './fit/dataset-pump.js';
export type { ArrayData, FitInput } from './fit/data.js';
export type { ClassWeight, ClassWeightArg } from './fit/class-weight.js';
export type { Callback, Logs } from './fit/callbacks.js';
export { LOSSES } from './fit/spec.js';
export {
  learningRateScheduler,
  reduceLROnPlateau,
  LearningRateScheduler,
  ReduceLROnPlateau,
  type ReduceLROnPlateauArgs,
} from './fit/schedules.js';
export { LR_SCHEDULES, type LrSchedule, type LrScheduleKind } from './optim/schedule.js';
export {
  tensorBoard,
  TensorBoard,
  BatchTensorBoard,
  type TensorBoardArgs,
  type UpdateFreq,
} from './tensorboard/callback.js';
export { EventWriter, EventFileError, type EventWriterOptions } from './tensorboard/event-writer.js';

// Importing the package makes `model.save('file://DIR')` and `tf.loadLayersModel('file://DIR/model.json')`
// work without tfjs-node (Note [file handlers defer to tfjs-node]).
import { registerFileHandlers } from './io/file-handlers.js';
registerFileHandlers();
