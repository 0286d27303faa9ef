import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** Colours for series, distinct and readable on white (each at least 3:1 against it). */
export const PALETTE = ['#2563eb', '#d9480f', '#2b8a3e', '#9c36b5', '#c2255c', '#0b7285', '#5f3dc4', '#a61e4d', '#364fc7', '#862e9c', '#e67700', '#495057', '#087f5b'];

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  color?: string;
  /** A dashed line (a capacity, a limit) drawn over the rest, never stacked or filled. */
  dashed?: boolean;
}

export interface ChartProps {
  title: string;
  /** Each point's time, epoch seconds. */
  times: number[];
  series: ChartSeries[];
  /** Unit of the values, for the axis and the table (GPU-h, CPUs). */
  unit: string;
  /** Stacked areas (the filled series add up), else lines. */
  stacked?: boolean;
  /** Bars rather than areas (one per time bucket). */
  bars?: boolean;
  height?: number;
  class?: string;
}

/**
 * A time chart (uPlot, on a canvas) inside a figure that says what it shows: a caption, a legend, and
 * the same numbers as a table for screen readers (a canvas says nothing to them). The figure carries
 * `data-points` (the points drawn) and `data-series` so tests can tell a chart drew live data.
 */
export function Chart(props: ChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const filled = props.series.filter((s) => !s.dashed);
  const points = props.series.reduce((n, s) => n + s.values.filter((v) => v !== null && v !== undefined).length, 0);

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    // Stacking: each filled series is drawn as the running sum of those before it, the top first, so
    // each lower area paints over the one above: bands whose thickness is each series' own value.
    const sums: Array<Array<number | null>> = [];
    filled.forEach((s, i) => sums.push(s.values.map((v, j) => (props.stacked ? (v ?? 0) + (i > 0 ? (sums[i - 1]![j] ?? 0) : 0) : v))));
    const order = props.stacked ? [...filled.keys()].reverse() : [...filled.keys()];
    const lines = props.series.filter((s) => s.dashed);
    const colorOf = (s: ChartSeries, i: number) => s.color ?? PALETTE[i % PALETTE.length]!;
    const data: uPlot.AlignedData = [props.times, ...order.map((i) => sums[i]!), ...lines.map((s) => s.values)] as uPlot.AlignedData;
    const options: uPlot.Options = {
      width: Math.max(280, element.clientWidth),
      height: props.height ?? 220,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      // Bars start at their bucket's time: the scale runs to the end of the last bucket, so it shows whole.
      scales: { x: { time: true, ...(props.bars && props.times.length > 1 ? { range: (_u: uPlot, min: number, max: number) => [min, max + (props.times[1]! - props.times[0]!)] as uPlot.Range.MinMax } : {}) }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: '#3d4452', grid: { stroke: '#e6e8ec' } },
        { stroke: '#3d4452', grid: { stroke: '#e6e8ec' }, size: 56, values: (_u, values) => values.map((v) => `${+v.toFixed(2)}`) },
      ],
      series: [
        {},
        ...order.map((i) => {
          const color = colorOf(filled[i]!, i);
          return {
            label: filled[i]!.label,
            stroke: color,
            width: 1.5,
            fill: props.stacked || props.bars ? `${color}cc` : `${color}22`,
            // Samples hold until the next one: steps, never lines that invent values between them.
            ...(props.bars
              ? { paths: uPlot.paths.bars!({ size: [0.8, 40], align: 1 }), points: { show: false } }
              : { paths: uPlot.paths.stepped!({ align: 1 }), points: { show: props.times.length < 3 } }),
          };
        }),
        ...lines.map((s) => ({ label: s.label, stroke: s.color ?? '#1d2330', width: 2, dash: [6, 4], points: { show: false }, paths: uPlot.paths.stepped!({ align: 1 }) })),
      ],
    };
    plot.current?.destroy();
    plot.current = new uPlot(options, data, element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(280, element.clientWidth), height: props.height ?? 220 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [JSON.stringify(props.series), JSON.stringify(props.times), props.stacked, props.bars]);

  const format = (value: number | null | undefined) => (value === null || value === undefined ? '-' : `${+value.toFixed(2)}`);
  return (
    <figure class={`chart ${props.class ?? ''}`} data-points={points} data-series={props.series.length}>
      <figcaption>
        {props.title} <span class="unit">({props.unit})</span>
      </figcaption>
      <ul class="legend">
        {props.series.map((s) => (
          <li key={s.label}>
            <span class={`swatch${s.dashed ? ' dashed' : ''}`} style={{ background: s.dashed ? 'transparent' : (s.color ?? PALETTE[filled.indexOf(s) % PALETTE.length]), borderColor: s.color ?? '#1d2330' }} aria-hidden="true" />
            {s.label}
          </li>
        ))}
      </ul>
      <div class="plot" ref={holder} aria-hidden="true" />
      <table class="visually-hidden">
        <caption>{props.title}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            {props.series.map((s) => (
              <th scope="col" key={s.label}>
                {s.label} ({props.unit})
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.times.map((t, j) => (
            <tr key={t}>
              <th scope="row">{new Date(t * 1000).toLocaleString()}</th>
              {props.series.map((s) => (
                <td key={s.label}>{format(s.values[j])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
