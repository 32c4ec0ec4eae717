/**
 * A CSV file of numeric samples as labelled samples in shared memory: every
 * column but the label column is a feature (float32), one row per sample.
 *
 * Defined as: fields separated by `delimiter` (',', or where the first line
 * holds no comma, the first of ';' and tab that it holds), one row per line (LF or
 * CRLF, a UTF-8 BOM ignored, blank lines skipped), a field may be quoted
 * ("..." with "" for a quote) but not span lines; the first line names the
 * columns unless `hasHeader` is false. A feature is a decimal number (`-1`,
 * `0.5`, `1e-3`; spaces around it allowed). The label column holds class labels:
 * integers 0 to 255, class i being "i" (the classes 0 to the largest label), or
 * names, sorted into classes as torchvision's ImageFolder sorts folders, the
 * label being the position; with `regression`, a number: the target. An empty
 * label, and numbers that are not all class indices (-1, 0.5, 300), are errors.
 *
 * The file is streamed line by line; every problem is one DataFileError naming
 * the file, and the line and column where there is one.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { OptionError, showValue } from '../errors.js';
import { DataFileError } from './idx.js';
import { MAX_CLASSES, Samples, checkClasses, nameList, sharedF32 } from './samples.js';

export interface CsvOptions {
  /** The label column: its name in the header, or its index, 0-based (default "label", or 0 without a header). */
  readonly labelColumn?: string | number;
  /** The first line names the columns (default true). */
  readonly hasHeader?: boolean;
  /** The label column holds regression targets (float32, `targets` (count, 1)), not classes (default false). */
  readonly regression?: boolean;
  /** The field separator, one character (default ",", or ";" or tab where the first line has no comma but one of them). */
  readonly delimiter?: string;
  /**
   * The classes to map the labels onto, by name (a training set's `classes`, for its
   * test set); default: the file's own.
   */
  readonly classes?: readonly string[];
  /**
   * The feature columns, by name, read in this order (a training file's `columns`,
   * for its test set or a model's input): the header line must name each, in any
   * order, and its other columns are not read; default: every column but the label.
   */
  readonly columns?: readonly string[];
}

const OPTION_NAMES = ['labelColumn', 'hasHeader', 'regression', 'delimiter', 'classes', 'columns'];
/** Rows per block of the growing buffer the rows are parsed into before the one shared copy. */
const BLOCK_ROWS = 4096;
const DECIMAL = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

const isDecimal = (label: string): boolean => DECIMAL.test(label) && Number.isFinite(Number(label));

/** A label that is a number with an integer value from 0 to 255 ("3", "3.0", "03"): that class index. */
function classIndex(label: string): number | undefined {
  const v = Number(label);
  return isDecimal(label) && Number.isInteger(v) && v >= 0 && v < MAX_CLASSES ? v : undefined;
}

/** Reads `path` (see the file's contract); any problem with the file is a DataFileError, with an option an OptionError. */
export async function csvDataset(path: string, options: CsvOptions = {}): Promise<Samples> {
  const o = checkOptions(options);
  await checkFile(path);
  const reader = new RowReader(path, o);
  const input = createReadStream(path, { encoding: 'utf8' });
  let readError: Error | undefined;
  input.on('error', (err) => (readError = err));
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) reader.line(line);
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    readError = err as Error;
  } finally {
    lines.close();
    input.destroy();
  }
  if (readError !== undefined) throw new DataFileError(path, `cannot be read: ${readError.message}`);
  return reader.finish();
}

type Resolved = Required<Omit<CsvOptions, 'classes' | 'columns' | 'delimiter'>> &
  Pick<CsvOptions, 'classes' | 'columns' | 'delimiter'>;

/** What separates the fields when no delimiter is given: a comma, else what the first line holds (Excel's ';', a tab). */
const SEPARATORS = [',', ';', '\t'];

/** The first of SEPARATORS the first line holds outside quoted fields ("price, usd";b), else ','. */
function separatorOf(line: string): string {
  const bare = line.replace(/"[^"]*"/g, '');
  return SEPARATORS.find((c) => bare.includes(c)) ?? ',';
}

function checkOptions(options: CsvOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw new OptionError('csvDataset options must be an object');
  for (const k of Object.keys(options))
    if (!OPTION_NAMES.includes(k))
      throw new OptionError(`unknown csvDataset option ${k} (known: ${OPTION_NAMES.join(', ')})`);
  const hasHeader = options.hasHeader ?? true;
  if (typeof hasHeader !== 'boolean')
    throw new OptionError(`hasHeader must be true or false, got ${showValue(hasHeader)}`);
  const regression = options.regression ?? false;
  if (typeof regression !== 'boolean')
    throw new OptionError(`regression must be true or false, got ${showValue(regression)}`);
  const labelColumn = options.labelColumn ?? (hasHeader ? 'label' : 0);
  const isIndex = typeof labelColumn === 'number' && Number.isInteger(labelColumn) && labelColumn >= 0;
  if (!isIndex && (typeof labelColumn !== 'string' || labelColumn === '' || !hasHeader)) {
    throw new OptionError(
      `labelColumn must be ${hasHeader ? 'a column name or ' : ''}a column index (0-based)${hasHeader ? '' : ' when hasHeader is false'}, got ${showValue(labelColumn)}`,
    );
  }
  const delimiter = options.delimiter;
  if (
    delimiter !== undefined &&
    (typeof delimiter !== 'string' || delimiter.length !== 1 || '"\r\n'.includes(delimiter))
  ) {
    throw new OptionError(
      `delimiter must be one character other than a quote or a line break, got ${showValue(delimiter)}`,
    );
  }
  const classes = checkClasses(options.classes);
  const columns = options.columns;
  if (columns !== undefined && (!Array.isArray(columns) || !columns.every((c) => typeof c === 'string')))
    throw new OptionError(`columns must be a list of column names, got ${showValue(columns)}`);
  if (columns !== undefined && !hasHeader) throw new OptionError('columns needs a header line (hasHeader true)');
  const twice = columns?.find((c, i) => columns.indexOf(c) !== i);
  if (columns?.length === 0 || twice !== undefined)
    throw new OptionError(
      twice === undefined ? 'columns must name at least one column' : `columns names "${twice}" twice`,
    );
  return { labelColumn, hasHeader, regression, delimiter, classes, columns };
}

/** Fails early, with the file's name, when it is missing or a folder. */
async function checkFile(path: string): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) throw new DataFileError(path, 'is a folder, not a CSV file');
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataFileError(path, code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? String(err)})`);
  }
}

/** Class labels that are numbers but not class indices: perhaps regression targets. */
export class NumericLabelError extends DataFileError {
  constructor(
    file: string,
    detail: string,
    /** The detail without the advice, for a caller whose advice differs. */
    readonly finding: string,
  ) {
    super(file, detail);
  }
}

/** Names for a message, quoted: `"x3"`, `"x3", "x4"`, the first 8 then "...". */
const quoted = (names: readonly string[]): string => nameList(names.map((n) => JSON.stringify(n)));

/** A label as first seen: its code (order of first appearance) and line. */
interface Seen {
  readonly code: number;
  readonly line: number;
}

/** The parser's state: fed one line at a time, then finished into Samples. */
class RowReader {
  private lineNo = 0;
  private names: string[] | undefined;
  private label = -1;
  /** The field index of each feature, in the order they are stored. */
  private features: number[] = [];
  private rows = 0;
  /** The delimiter: the option's, else the first line's (SEPARATORS). */
  private delimiter: string | undefined;
  private blocks: Float32Array[] = [];
  private targets: number[] = [];
  private codes = new Uint8Array(BLOCK_ROWS);
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly path: string,
    private readonly o: Resolved,
  ) {}

  line(raw: string): void {
    this.lineNo++;
    const text = this.lineNo === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    if (text.trim() === '') return;
    // Node reads bytes that are not UTF-8 as U+FFFD: a Latin-1 file's "é" would become a class name no one wrote.
    if (text.includes('\uFFFD')) throw this.error(`line ${this.lineNo} is not valid UTF-8 (save the file as UTF-8)`);
    const fields = this.fields(text);
    if (this.names === undefined) {
      this.columns(fields);
      if (this.o.hasHeader) return;
    }
    if (fields.length !== this.names!.length) {
      const what = this.o.hasHeader ? 'the header has' : 'the first row has';
      throw this.error(`line ${this.lineNo} has ${fields.length} fields, ${what} ${this.names!.length}`);
    }
    this.row(fields);
  }

  /** The column names (or numbers) and the label column's index, from the first line. */
  private columns(fields: string[]): void {
    const names = this.o.hasHeader ? fields.map((f) => f.trim()) : fields.map((_, i) => `${i}`);
    const unnamed = names.indexOf('');
    if (unnamed >= 0) {
      const why =
        unnamed === 0
          ? " (an index column, as pandas' to_csv writes one without index=False?)"
          : unnamed === names.length - 1
            ? ` (a ${JSON.stringify(this.delimiter)} at the end of the line?)`
            : '';
      throw this.error(`line 1: field ${unnamed + 1} has no name${why}`);
    }
    const twice = names.findIndex((n, i) => names.indexOf(n) !== i);
    if (twice >= 0)
      throw this.error(
        `line 1: the column name "${names[twice]}" is given twice (fields ${names.indexOf(names[twice]) + 1} and ${twice + 1})`,
      );
    const want = this.o.labelColumn;
    const label = typeof want === 'number' ? want : names.indexOf(want);
    if (label < 0 || label >= names.length) {
      throw this.error(
        typeof want === 'number'
          ? `has ${names.length} columns, no label column at index ${want}`
          : `no column "${want}" in the header line (columns: ${nameList(names)})${names.every(isDecimal) ? '; its first line must name the columns' : ''}`,
      );
    }
    if (names.length < 2) throw this.error(`has no feature columns besides the label column "${names[label]}"`);
    this.names = names;
    this.label = label;
    const given = this.o.columns;
    if (given === undefined) {
      this.features = names.map((_, i) => i).filter((i) => i !== label);
      return;
    }
    const missing = given.filter((c) => c === names[label] || !names.includes(c));
    if (missing.length > 0) {
      const s = missing.length === 1 ? '' : 's';
      throw this.error(
        `line 1: no feature column${s} ${quoted(missing)} of the ${given.length} given (the header names ${nameList(names)})`,
      );
    }
    this.features = given.map((c) => names.indexOf(c));
  }

  private row(fields: string[]): void {
    const cols = this.features;
    const f = cols.length;
    const at = this.rows % BLOCK_ROWS;
    if (at === 0) this.blocks.push(new Float32Array(BLOCK_ROWS * f));
    const block = this.blocks[this.blocks.length - 1];
    const o = at * f;
    for (let j = 0; j < f; j++) block[o + j] = this.number(fields[cols[j]], cols[j]);
    const l = fields[this.label];
    if (this.o.regression) this.targets.push(this.number(l, this.label));
    else {
      if (this.rows === this.codes.length) {
        const grown = new Uint8Array(2 * this.codes.length);
        grown.set(this.codes);
        this.codes = grown;
      }
      const label = l.trim();
      if (label === '') throw this.error(`${this.where(this.label)}: the label is empty`);
      this.codes[this.rows] = this.code(label);
    }
    this.rows++;
  }

  private number(s: string, column: number): number {
    const v = Number(s);
    // Number() also takes "0x1f", "0b1", "Infinity" and a blank (as 0): a field other than a digit followed
    // by a digit, a '.', a sign or nothing (the common case, taken as is) must match DECIMAL.
    const c0 = s.charCodeAt(0);
    const c1 = s.charCodeAt(1);
    const plain = c0 >= 48 && c0 <= 57 && !(c1 > 57);
    if (!Number.isFinite(v) || (!plain && !DECIMAL.test(s))) {
      const comma = /^\s*[-+]?\d+,\d+\s*$/.test(s) ? ' (a decimal comma? numbers take a point)' : '';
      throw this.error(`${this.where(column)}: ${JSON.stringify(s)} is not a number${comma}`);
    }
    if (!Number.isFinite(Math.fround(v)))
      throw this.error(`${this.where(column)}: ${JSON.stringify(s)} is beyond float32's range (±3.4e38)`);
    return v;
  }

  /** The label's code: labels are numbered in the order they first appear, until finish() sorts them into classes. */
  private code(label: string): number {
    const seen = this.seen.get(label);
    if (seen !== undefined) return seen.code;
    if (this.seen.size === MAX_CLASSES) {
      const detail = `${this.where(this.label)}: a ${MAX_CLASSES + 1}th distinct label ${JSON.stringify(label)}, more classes than ${MAX_CLASSES}`;
      // Numbers all: perhaps regression targets, which the regression option reads.
      if (isDecimal(label) && [...this.seen.keys()].every(isDecimal))
        throw new NumericLabelError(this.path, `${detail}; regression targets need the regression option`, detail);
      throw this.error(detail);
    }
    const code = this.seen.size;
    this.seen.set(label, { code, line: this.lineNo });
    return code;
  }

  finish(): Samples {
    if (this.names === undefined) throw this.error('is empty');
    if (this.rows === 0) throw this.error('has a header line but no rows');
    const f = this.features.length;
    // Validated; now the one shared copy.
    const images = sharedF32(this.rows * f);
    this.blocks.forEach((b, i) =>
      images.set(b.subarray(0, Math.min(BLOCK_ROWS, this.rows - i * BLOCK_ROWS) * f), i * BLOCK_ROWS * f),
    );
    const split = { count: this.rows, features: f, rows: 1, cols: f, images };
    const source = resolve(this.path);
    if (this.o.regression) {
      const data = sharedF32(this.rows);
      data.set(this.targets);
      return new Samples(
        source,
        { ...split, labels: new Uint8Array(0), targets: { data, shape: [1] } },
        [f],
        undefined,
        [],
        this.featureNames(),
      );
    }
    const { classes, index } = this.classes();
    const labels = new Uint8Array(new SharedArrayBuffer(this.rows));
    for (let i = 0; i < this.rows; i++) labels[i] = index[this.codes[i]];
    return new Samples(source, { ...split, labels }, [f], classes, [], this.featureNames());
  }

  /** The feature columns by name, in order; undefined without a header line. */
  private featureNames(): readonly string[] | undefined {
    return this.o.hasHeader ? this.features.map((i) => this.names![i]) : undefined;
  }

  /** The classes, and each label code's class. */
  private classes(): { classes: readonly string[]; index: Uint8Array } {
    const index = new Uint8Array(this.seen.size);
    const given = this.o.classes;
    if (given !== undefined) {
      for (const [label, { code, line }] of this.seen) {
        const asIndex = classIndex(label); // "007" is class "7" unless a class is named "007"
        const c =
          given.includes(label) || asIndex === undefined ? given.indexOf(label) : given.indexOf(String(asIndex));
        if (c < 0) {
          throw this.error(
            `${this.where(this.label, line)}: class ${JSON.stringify(label)} is not one of the ${given.length} classes given (${nameList(given)})`,
          );
        }
        index[code] = c;
      }
      return { classes: given, index };
    }
    const labels = [...this.seen.keys()];
    if (labels.every((l) => classIndex(l) !== undefined)) {
      for (const [label, { code }] of this.seen) index[code] = classIndex(label)!;
      const top = Math.max(...labels.map((l) => classIndex(l)!));
      return { classes: Array.from({ length: top + 1 }, (_, i) => String(i)), index };
    }
    if (labels.every(isDecimal)) {
      // Numbers, not all class indices: names would renumber the classes ("-1" < "0"), and a float is a target.
      const [label, { line }] = [...this.seen].find(([l]) => classIndex(l) === undefined)!;
      const detail = `${this.where(this.label, line)}: the label ${JSON.stringify(label)} is a number but not a class index (an integer from 0 to ${MAX_CLASSES - 1})`;
      throw new NumericLabelError(this.path, `${detail}; regression targets need the regression option`, detail);
    }
    const classes = [...labels].sort();
    for (const [label, { code }] of this.seen) index[code] = classes.indexOf(label);
    return { classes, index };
  }

  /** `line 17, column "px3"` (with a header) or `line 17, field 4` (1-based, without). */
  private where(column: number, line = this.lineNo): string {
    const name = this.o.hasHeader ? `column ${JSON.stringify(this.names![column])}` : `field ${column + 1}`;
    return `line ${line}, ${name}`;
  }

  private error(detail: string): DataFileError {
    return new DataFileError(this.path, detail);
  }

  /** The fields of a line: split on the delimiter, or, where there are quotes, field by field. */
  private fields(line: string): string[] {
    const d = (this.delimiter ??= this.o.delimiter ?? separatorOf(line));
    if (!line.includes('"')) return line.split(d);
    const out: string[] = [];
    let i = 0;
    for (;;) {
      let field = '';
      while (line[i] === ' ') i++;
      if (line[i] === '"') {
        for (i++; ; i++) {
          if (i >= line.length) throw this.error(`line ${this.lineNo}: a quoted field does not end on its line`);
          if (line[i] === '"') {
            if (line[i + 1] !== '"') break;
            i++;
          }
          field += line[i];
        }
        i++;
        while (line[i] === ' ') i++;
        if (i < line.length && line[i] !== d) throw this.error(`line ${this.lineNo}: text after a quoted field`);
      } else {
        const end = line.indexOf(d, i);
        field = line.slice(i, end < 0 ? line.length : end);
        i = end < 0 ? line.length : end;
      }
      out.push(field);
      if (i >= line.length) return out;
      i++; // the delimiter
    }
  }
}
