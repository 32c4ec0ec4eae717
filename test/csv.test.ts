// csvDataset (src/data/csv.ts): MNIST digits written as CSV read back to the idx reader's
// floats bit for bit; class labels, names and regression targets; the format's corners; every
// bad file one DataFileError with its exact message. holdOut and toDataset (src/data/samples.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFileError, OptionError, csvDataset, holdOut, toDataset, type CsvOptions } from '../dist/src/index.js';
import { writeDigitCsv } from './digit-files.js';
import { mnist, rejection } from './helpers.js';

let tmp: string;
let n = 0;
/** A new file in tmp holding `text`. */
function file(text: string, name = `f${n++}.csv`): string {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-ddp-csv-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('csvDataset on MNIST digits', () => {
  it('reads the idx floats and labels back bit for bit, into shared memory, classes "0" to "9"', async () => {
    const d = mnist().train;
    const s = await csvDataset(writeDigitCsv(join(tmp, 'digits.csv'), d, 0, 300));
    expect(s.count).toBe(300);
    expect(s.shape).toEqual([784]);
    expect(s.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(s.split.images.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(s.split.labels.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(s.split.images).toEqual(d.images.subarray(0, 300 * 784));
    expect(s.split.labels).toEqual(d.labels.subarray(0, 300));
    expect([s.split.features, s.split.rows, s.split.cols]).toEqual([784, 1, 784]);
  });

  it('gives fitParallel x (a view, no copy), y one-hot and labels for sparse crossentropy', async () => {
    const s = await csvDataset(file('label,a,b\n2,0.5,1\n0,-1,2e-1\n'));
    expect(s.x.shape).toEqual([2, 2]);
    expect(s.x.data).toBe(s.split.images);
    expect(Array.from(s.x.data)).toEqual([0.5, 1, -1, Math.fround(0.2)]);
    expect(s.y.shape).toEqual([2, 3]);
    expect(Array.from(s.y.data)).toEqual([0, 0, 1, 1, 0, 0]);
    expect(s.labels.shape).toEqual([2]);
    expect(Array.from(s.labels.data)).toEqual([2, 0]);
  });
});

describe('csvDataset labels', () => {
  it('integer labels: classes "0" to the largest, whether or not each occurs', async () => {
    const s = await csvDataset(file('x,label\n1,3\n2,0\n3,03\n4,1.0\n'));
    expect(s.classes).toEqual(['0', '1', '2', '3']);
    expect(Array.from(s.split.labels)).toEqual([3, 0, 3, 1]);
  });

  it('names: sorted (as ImageFolder sorts its folders), the label being the position', async () => {
    const s = await csvDataset(file('x,species\n1,virginica\n2,setosa\n3,versicolor\n4,setosa\n'), {
      labelColumn: 'species',
    });
    expect(s.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(Array.from(s.split.labels)).toEqual([2, 0, 1, 0]);
  });

  it('a test file maps onto the training classes by name; one without them is one line', async () => {
    const train = await csvDataset(file('x,label\n1,cat\n2,dog\n3,emu\n'));
    const test = await csvDataset(file('x,label\n1,emu\n2,cat\n'), { classes: train.classes });
    expect(test.classes).toEqual(['cat', 'dog', 'emu']);
    expect(Array.from(test.split.labels)).toEqual([2, 0]);
    const ints = await csvDataset(file('x,label\n1,007\n'), { classes: ['0', '1', '2', '3', '4', '5', '6', '7'] });
    expect(Array.from(ints.split.labels)).toEqual([7]);
    const f = file('x,label\n1,cat\n2,fox\n');
    const err = await rejection(csvDataset(f, { classes: train.classes }));
    expect((err as Error).message).toBe(
      `${f}: line 3, column "label": class "fox" is not one of the 3 classes given (cat, dog, emu)`,
    );
  });

  it('a test file is read by the training file’s feature columns, by name in any order; a missing one is one line', async () => {
    const train = await csvDataset(file('a,label,b\n1,0,2\n'));
    expect(train.columns).toEqual(['a', 'b']);
    const test = await csvDataset(file('label,a,b\n1,3,4\n'), { columns: train.columns });
    expect(Array.from(test.split.images)).toEqual([3, 4]);
    expect(holdOut(await csvDataset(file(`a,label\n${[1, 2, 3, 4].join(',0\n')},0\n`)), 0.5, 1).test.columns).toEqual([
      'a',
    ]);
    // Another order, and a column the model does not take (an id): read as the training file's a, b.
    const other = await csvDataset(file('id,b,label,a\n7,4,1,3\n8,6,0,5\n'), { columns: train.columns });
    expect(Array.from(other.split.images)).toEqual([3, 4, 5, 6]);
    expect(other.columns).toEqual(['a', 'b']);
    expect(other.split.features).toBe(2);
    for (const [header, missing] of [
      ['a,c,label', 'no feature column "b"'],
      ['a,label', 'no feature column "b"'],
      ['c,d,label', 'no feature columns "a", "b"'],
      ['b,a', 'no feature column "a"'],
    ] as const) {
      const f = file(`${header}\n${header.replace(/[a-z]+/g, '1')}\n`);
      const err = await rejection(
        csvDataset(f, { columns: train.columns, labelColumn: header === 'b,a' ? 'a' : 'label' }),
      );
      expect(err).toBeInstanceOf(DataFileError);
      expect((err as Error).message).toBe(
        `${f}: line 1: ${missing} of the 2 given (the header names ${header.replace(/,/g, ', ')})`,
      );
    }
    for (const [columns, message] of [
      [[], 'columns must name at least one column'],
      [['a', 'b', 'a'], 'columns names "a" twice'],
    ] as const) {
      const err = await rejection(csvDataset(file('a,label,b\n1,0,2\n'), { columns }));
      expect(err).toBeInstanceOf(OptionError);
      expect((err as Error).message).toBe(message);
    }
    expect((await csvDataset(file('1,2\n'), { hasHeader: false })).columns).toBeUndefined();
  });

  it('regression: the label column as float32 targets (count, 1), which y gives', async () => {
    const s = await csvDataset(file('a,b,price\n1,2,10.5\n3,4,-2\n'), { labelColumn: 'price', regression: true });
    expect(s.classes).toBeUndefined();
    expect(s.split.labels.length).toBe(0);
    expect(s.split.targets?.shape).toEqual([1]);
    expect(Array.from(s.split.targets!.data)).toEqual([10.5, -2]);
    expect(s.y.shape).toEqual([2, 1]);
    expect(Array.from(s.x.data)).toEqual([1, 2, 3, 4]);
  });
});

describe('csvDataset format', () => {
  it('quoted names, CRLF, a BOM, blank lines, spaces around numbers, ";", no header with a column index', async () => {
    const a = await csvDataset(file('\ufeff"x ""1""",label,"y"\r\n\r\n 1.5 ,1, "2"\r\n+3,0,.5e1\r\n\r\n'));
    expect(a.count).toBe(2);
    expect(Array.from(a.x.data)).toEqual([1.5, 2, 3, 5]);
    expect(Array.from(a.split.labels)).toEqual([1, 0]);
    const b = await csvDataset(file('1;0.25;1\n2;0.75;0\n'), { hasHeader: false, labelColumn: 2, delimiter: ';' });
    expect(Array.from(b.x.data)).toEqual([1, 0.25, 2, 0.75]);
    expect(Array.from(b.split.labels)).toEqual([1, 0]);
    const c = await csvDataset(file('1,0.5\n0,0.25\n'), { hasHeader: false });
    expect(Array.from(c.split.labels)).toEqual([1, 0]);
  });

  it('a first line without a comma but with ";" or a tab: fields separated by it (Excel, TSV)', async () => {
    for (const d of [';', '\t']) {
      const s = await csvDataset(file(['a', 'b', 'label'].join(d) + `\n1${d}2.5${d}x\n3${d}4${d}y\n`));
      expect([s.columns, s.classes, Array.from(s.x.data)]).toEqual([
        ['a', 'b'],
        ['x', 'y'],
        [1, 2.5, 3, 4],
      ]);
    }
    const quoted = await csvDataset(file('"price, usd";b;label\n1.5;2;x\n'));
    expect(quoted.columns).toEqual(['price, usd', 'b']);
    // A comma on the first line keeps the comma; a delimiter given wins.
    const comma = await csvDataset(file('a;b,label\n1,x\n'));
    expect(comma.columns).toEqual(['a;b']);
    const given = await csvDataset(file('a;b|label\n1|x\n'), { delimiter: '|', labelColumn: 'label' });
    expect(given.columns).toEqual(['a;b']);
  });

  it('reads a file of many blocks of rows whole, in order', async () => {
    const rows = 10_000;
    const lines = ['i,label,j'];
    for (let i = 0; i < rows; i++) lines.push(`${i},${i % 7},${2 * i}`);
    const s = await csvDataset(file(lines.join('\n')));
    expect(s.count).toBe(rows);
    const want = new Float32Array(2 * rows);
    for (let i = 0; i < rows; i++) want.set([i, 2 * i], 2 * i);
    expect(s.split.images).toEqual(want);
    expect(Array.from(s.split.labels.subarray(rows - 3))).toEqual([(rows - 3) % 7, (rows - 2) % 7, (rows - 1) % 7]);
  });
});

describe('csvDataset, bad files: one DataFileError naming the file, line and column', () => {
  const cases: [string, string, CsvOptions | undefined, string][] = [
    [
      'a non-number',
      'label,px1,px2,px3\n1,0,0,0\n2,0.5,1,abc\n',
      undefined,
      'line 3, column "px3": "abc" is not a number',
    ],
    ['an empty field', 'label,a,b\n1,,2\n', undefined, 'line 2, column "a": "" is not a number'],
    ['a hex number', 'label,a\n1,0x10\n', undefined, 'line 2, column "a": "0x10" is not a number'],
    ['infinity', 'label,a\n1,Infinity\n', undefined, 'line 2, column "a": "Infinity" is not a number'],
    ['an overflow', 'label,a\n1,1e999\n', undefined, 'line 2, column "a": "1e999" is not a number'],
    ['a non-number, no header', '1,2\n0,x\n', { hasHeader: false }, 'line 2, field 2: "x" is not a number'],
    [
      'a bad regression target',
      'y,a\nbig,1\n',
      { labelColumn: 'y', regression: true },
      'line 2, column "y": "big" is not a number',
    ],
    ['no label column', 'a,b\n1,2\n', undefined, 'no column "label" in the header line (columns: a, b)'],
    [
      'no label column, many columns',
      'a,b,c,d,e,f,g,h,i\n1,2,3,4,5,6,7,8,9\n',
      { labelColumn: 'y' },
      'no column "y" in the header line (columns: a, b, c, d, e, f, g, h, ...)',
    ],
    [
      'no column at the index',
      '1,2\n',
      { hasHeader: false, labelColumn: 2 },
      'has 2 columns, no label column at index 2',
    ],
    ['a short row', 'label,a,b\n1,2,3\n1,2\n', undefined, 'line 3 has 2 fields, the header has 3'],
    ['a long row', '1,2\n1,2,3\n', { hasHeader: false }, 'line 2 has 3 fields, the first row has 2'],
    ['an empty file', '', undefined, 'is empty'],
    ['blank lines only', '\n \r\n\n', undefined, 'is empty'],
    ['a header only', 'label,a\n', undefined, 'has a header line but no rows'],
    ['the label column only', 'label\n1\n', undefined, 'has no feature columns besides the label column "label"'],
    ['an open quote', 'label,a\n1,"2\n', undefined, 'line 2: a quoted field does not end on its line'],
    ['text after a quote', 'label,a\n1,"2"x\n', undefined, 'line 2: text after a quoted field'],
    ['an empty label', 'label,a\n1,1\n ,2\n', undefined, 'line 3, column "label": the label is empty'],
    [
      'a negative number among class indices',
      'label,a\n0,1\n1,1\n-1,2\n',
      undefined,
      'line 4, column "label": the label "-1" is a number but not a class index (an integer from 0 to 255); regression targets need the regression option',
    ],
    [
      'regression targets read as classes',
      'label,a\n0.25,1\n1.75,1\n',
      undefined,
      'line 2, column "label": the label "0.25" is a number but not a class index (an integer from 0 to 255); regression targets need the regression option',
    ],
    [
      'a class index over 255',
      'label,a\n0,1\n300,1\n',
      undefined,
      'line 3, column "label": the label "300" is a number but not a class index (an integer from 0 to 255); regression targets need the regression option',
    ],
    [
      'a number beyond float32',
      'label,a\n0,1\n1,-1e40\n',
      undefined,
      'line 3, column "a": "-1e40" is beyond float32\'s range (±3.4e38)',
    ],
    [
      "an unnamed first column (pandas' index)",
      ',a,label\n0,1,2\n',
      undefined,
      "line 1: field 1 has no name (an index column, as pandas' to_csv writes one without index=False?)",
    ],
    [
      'a comma at the end of the header',
      'a,label,\n1,2,\n',
      undefined,
      'line 1: field 3 has no name (a "," at the end of the line?)',
    ],
    ['an unnamed column', 'a,,label\n1,2,3\n', undefined, 'line 1: field 2 has no name'],
    [
      'a decimal comma',
      'a;label\n1,5;2\n',
      undefined,
      'line 2, column "a": "1,5" is not a number (a decimal comma? numbers take a point)',
    ],
    [
      'a column name twice',
      'x,y,y\n1,2,3\n',
      { labelColumn: 'y' },
      'line 1: the column name "y" is given twice (fields 2 and 3)',
    ],
    [
      'no header line',
      '0.5,0.25\n1,2\n',
      undefined,
      'no column "label" in the header line (columns: 0.5, 0.25); its first line must name the columns',
    ],
    [
      '257 numbers, not all class indices',
      `label,a\n${Array.from({ length: 257 }, (_, i) => `${i / 2},1`).join('\n')}\n`,
      undefined,
      'line 258, column "label": a 257th distinct label "128", more classes than 256; regression targets need the regression option',
    ],
    [
      '257 classes',
      `label,a\n${Array.from({ length: 257 }, (_, i) => `c${i},1`).join('\n')}\n`,
      undefined,
      'line 258, column "label": a 257th distinct label "c256", more classes than 256',
    ],
  ];
  it('a file that is not UTF-8 (Latin-1)', async () => {
    const f = file('');
    writeFileSync(f, Buffer.concat([Buffer.from('a,label\n1,caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    const err = await rejection(csvDataset(f));
    expect((err as Error).message).toBe(`${f}: line 2 is not valid UTF-8 (save the file as UTF-8)`);
  });

  for (const [what, text, options, detail] of cases) {
    it(what, async () => {
      const f = file(text);
      const err = await rejection(csvDataset(f, options));
      expect(err).toBeInstanceOf(DataFileError);
      expect((err as Error).message).toBe(`${f}: ${detail}`);
    });
  }

  it('a missing file, a folder', async () => {
    const missing = join(tmp, 'nope.csv');
    expect((await rejection(csvDataset(missing))) as Error).toHaveProperty('message', `${missing}: not found`);
    const dir = join(tmp, 'dir.csv');
    mkdirSync(dir);
    expect((await rejection(csvDataset(dir))) as Error).toHaveProperty(
      'message',
      `${dir}: is a folder, not a CSV file`,
    );
  });

  it('bad options: one OptionError each', async () => {
    const f = file('label,a\n1,2\n');
    const cases: [unknown, string][] = [
      [
        { label: 'x' },
        'unknown csvDataset option label (known: labelColumn, hasHeader, regression, delimiter, classes, columns)',
      ],
      [{ labelColumn: '' }, 'labelColumn must be a column name or a column index (0-based), got ""'],
      [{ labelColumn: -1 }, 'labelColumn must be a column name or a column index (0-based), got -1'],
      [
        { hasHeader: false, labelColumn: 'a' },
        'labelColumn must be a column index (0-based) when hasHeader is false, got "a"',
      ],
      [{ hasHeader: 1 }, 'hasHeader must be true or false, got 1'],
      [{ regression: 'yes' }, 'regression must be true or false, got "yes"'],
      [{ delimiter: '"' }, 'delimiter must be one character other than a quote or a line break, got "\\""'],
      [{ classes: ['a', 'a'] }, 'classes must be 1 to 256 different names'],
      [{ columns: 'a,b' }, 'columns must be a list of column names, got "a,b"'],
      [{ columns: ['a'], hasHeader: false }, 'columns needs a header line (hasHeader true)'],
      [null, 'csvDataset options must be an object'],
    ];
    for (const [options, message] of cases) {
      const err = await rejection(csvDataset(f, options as CsvOptions));
      expect(err, message).toBeInstanceOf(OptionError);
      expect((err as Error).message).toBe(message);
    }
  });
});

describe('holdOut and toDataset', () => {
  const rows = (k: number): string => Array.from({ length: k }, (_, i) => `${i},${i % 3}`).join('\n');

  it('holds out round(fraction * n) samples drawn by the seed alone, both parts in file order', async () => {
    const s = await csvDataset(file(`i,label\n${rows(100)}\n`));
    const a = holdOut(s, 0.25, 7);
    expect([a.train.count, a.test.count]).toEqual([75, 25]);
    const ids = (x: typeof s): number[] => Array.from(x.split.images);
    expect([...ids(a.train), ...ids(a.test)].sort((p, q) => p - q)).toEqual(ids(s));
    for (const part of [a.train, a.test]) {
      expect(ids(part)).toEqual([...ids(part)].sort((p, q) => p - q));
      expect(Array.from(part.split.labels)).toEqual(ids(part).map((i) => i % 3));
      expect(part.split.images.buffer).toBeInstanceOf(SharedArrayBuffer);
    }
    expect(ids(holdOut(s, 0.25, 7).test)).toEqual(ids(a.test));
    expect(ids(holdOut(s, 0.25, 8).test)).not.toEqual(ids(a.test));
    const d = toDataset(a.train, a.test);
    expect([d.dir, d.numClasses, d.train.count, d.test.count]).toEqual([s.source, 3, 75, 25]);
  });

  it('refuses a fraction leaving no sample on a side, and a test set of another shape or other classes', async () => {
    const s = await csvDataset(file(`i,label\n${rows(4)}\n`));
    expect(() => holdOut(s, 0.1, 0)).toThrow(`holding out 0.1 of the 4 samples of ${s.source} leaves no test sample`);
    expect(() => holdOut(s, 0.9, 0)).toThrow(
      `holding out 0.9 of the 4 samples of ${s.source} leaves no training sample`,
    );
    expect(() => holdOut(s, 1, 0)).toThrow('the held-out fraction must be a number between 0 and 1, got 1');
    const wide = await csvDataset(file('i,j,label\n1,2,0\n'));
    expect(() => toDataset(s, wide)).toThrow(`${wide.source} has samples of shape [2], ${s.source} [1]`);
    const other = await csvDataset(file('i,label\n1,x\n'));
    expect(() => toDataset(s, other)).toThrow(
      `${other.source} has other classes than ${s.source}: load it with the option classes: train.classes`,
    );
  });
});
