// A uPlot chart of one metric, with horizontal lines for thresholds.
/* global uPlot */

const MIN_SPAN_S = 1800; // the narrowest time axis: half an hour

// Times on the axis are the area's (``zone``, an IANA name), as everywhere else on the console.
export function lineChart(element, { times, values, unit, label, thresholds = [], zone }) {
  element.replaceChildren();
  const width = Math.max(260, element.clientWidth || 320);
  const flat = (value) => times.map(() => value);
  const series = [{}, { label: `${label}${unit ? ` (${unit})` : ""}`, stroke: "#1f5fbf", width: 2 }];
  const data = [times, values];
  for (const { value, colour, name } of thresholds) {
    series.push({ label: name, stroke: colour, width: 2, dash: [6, 4], points: { show: false } });
    data.push(flat(value));
  }
  // A gauge that has just started reporting has one bucket: uPlot would spread its time axis over years.
  const first = times[0], last = times[times.length - 1];
  const x = last - first < MIN_SPAN_S ? { time: true, auto: false, range: [last - MIN_SPAN_S, last + MIN_SPAN_S / 10] }
                                      : { time: true };
  const tzDate = zone ? (ts) => uPlot.tzDate(new Date(ts * 1000), zone) : undefined;
  return new uPlot({ width, height: 180, series, axes: [{}, { label: unit }], legend: { live: false },
                     scales: { x }, ...(tzDate ? { tzDate } : {}) }, data, element);
}

export function seconds(iso) {
  return new Date(iso).getTime() / 1000;
}
