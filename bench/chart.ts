/** A minimal SVG line chart: samples/s against workers, one line per series, plus the ideal (linear) line. */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [workers: number, samplesPerSecond: number])[];
  readonly dashed?: boolean;
}

export function lineChartSvg(title: string, series: readonly Series[]): string {
  const W = 720;
  const H = 440;
  const m = { l: 80, r: 190, t: 40, b: 50 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(...xs);
  const yMax = niceCeil(Math.max(...ys));
  const X = (w: number): number => m.l + ((w - 1) / Math.max(1, xMax - 1)) * (W - m.l - m.r);
  const Y = (v: number): number => H - m.b - (v / yMax) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 8}" y="${Y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString('en-US')}</text>`);
  }
  for (const w of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<text x="${X(w)}" y="${H - m.b + 18}" text-anchor="middle">${w}</text>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">workers</text>`);
  out.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">samples/s</text>`);
  series.forEach((s, k) => {
    const d = s.points.map(([w, v], i) => `${i === 0 ? 'M' : 'L'}${X(w).toFixed(1)},${Y(v).toFixed(1)}`).join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const [w, v] of s.points) out.push(`<circle cx="${X(w)}" cy="${Y(v)}" r="3" fill="${s.color}"/>`);
    const ly = m.t + 10 + k * 20;
    out.push(
      `<line x1="${W - m.r + 15}" x2="${W - m.r + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${W - m.r + 46}" y="${ly + 4}">${s.name}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((k) => k * p).find((c) => c >= v) ?? v;
}
