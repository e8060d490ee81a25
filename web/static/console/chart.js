// A uPlot chart of one metric, with horizontal lines for thresholds.
/* global uPlot */

export function lineChart(element, { times, values, unit, label, thresholds = [] }) {
  element.replaceChildren();
  const width = Math.max(260, element.clientWidth || 320);
  const flat = (value) => times.map(() => value);
  const series = [{}, { label: `${label}${unit ? ` (${unit})` : ""}`, stroke: "#1f5fbf", width: 2 }];
  const data = [times, values];
  for (const { value, colour, name } of thresholds) {
    series.push({ label: name, stroke: colour, width: 2, dash: [6, 4], points: { show: false } });
    data.push(flat(value));
  }
  return new uPlot({ width, height: 180, series, axes: [{}, { label: unit }], legend: { live: false } }, data, element);
}

export function seconds(iso) {
  return new Date(iso).getTime() / 1000;
}
