import { DataFileError } from '../data/idx.js';

/**
 * A saved model is missing, malformed, or not the model the caller needs. A
 * DataFileError, so callers that treat bad input files alike (the CLI's exit
 * code 2) need no new case; `message` is `${file}: ${detail}`.
 */
export class ModelFileError extends DataFileError {
  constructor(file: string, detail: string) {
    super(file, detail);
    this.name = 'ModelFileError';
  }
}
