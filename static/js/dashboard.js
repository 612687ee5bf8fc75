/* Dashboard maps and charts, drawn from the REST API (/api/v1/, session cookie).
 *
 * - figure.choropleth: boundaries from data-geo-url (GeoJSON), values and classes from
 *   data-values-url (/api/v1/map-data/); every region a link with its value on hover and focus;
 *   download of the drawn map as SVG or PNG.
 * - figure.chart[data-chart=spending|regions]: /api/v1/budgets/{id}/utilisation/ as a line chart
 *   (cumulative spending against the pro-rata plan) or as bars per region.
 *
 * The tables beside them are rendered by the server from the same data and work without
 * JavaScript; the drawings are decoration for sighted users (aria-hidden where they hold no
 * controls). Plain DOM, no library.
 */
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const euro = new Intl.NumberFormat("de-DE", { style: "currency", currency: "EUR", maximumFractionDigits: 0 });
  const NODATA = "url(#nodata-hatch)";

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function status(figure, text) {
    const box = figure.querySelector(".choropleth__status, .chart__status");
    if (box) box.textContent = text;
  }

  function hatch(defs, id, background, line) {
    const p = el("pattern", { id: id, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
    el("rect", { width: 6, height: 6, fill: background || "#ffffff" }, p);
    el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: line || "#767676", "stroke-width": 2 }, p);
  }

  // A class's fill: its colour, or a hatching over its colour for classes marked "hatched".
  function classFill(defs, klass, index, prefix) {
    if (!klass.hatched) return klass.color;
    const id = `${prefix}-class-${index}`;
    if (!defs.querySelector("#" + id)) hatch(defs, id, klass.color, "#1b1b1b");
    return `url(#${id})`;
  }

  // --- maps ------------------------------------------------------------------------------

  function rings(geometry) {
    if (!geometry) return [];
    if (geometry.type === "Polygon") return [geometry.coordinates];
    if (geometry.type === "MultiPolygon") return geometry.coordinates;
    return [];
  }

  function drawMap(figure, geo, values) {
    const canvas = figure.querySelector(".choropleth__canvas");
    const details = figure.querySelector(".choropleth__details");
    const byCode = new Map(values.regions.map((r) => [r.code, r]));
    const features = geo.features.filter((f) => byCode.has(f.properties.code));
    if (!features.length) {
      status(figure, "Für diese Räume ist keine Grenze hinterlegt. Die Werte stehen in der Tabelle.");
      return;
    }
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    features.forEach((f) => rings(f.geometry).forEach((poly) => poly.forEach((ring) => ring.forEach(([x, y]) => {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }))));
    const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    const width = 800, pad = 4;
    const scale = (width - 2 * pad) / Math.max((maxX - minX) * k, 1e-9);
    const height = Math.round((maxY - minY) * scale + 2 * pad);
    const project = ([x, y]) => [(pad + (x - minX) * k * scale).toFixed(1), (pad + (maxY - y) * scale).toFixed(1)];

    const svg = el("svg", { xmlns: SVG, viewBox: `0 0 ${width} ${height}`, class: "map--choropleth", role: "group",
      "aria-label": "Karte: " + values.title });
    el("title", {}, svg).textContent = values.title + (values.period ? " (Stand " + values.period + ")" : "");
    const defs = el("defs", {}, svg);
    hatch(defs, "nodata-hatch");
    features.sort((a, b) => a.properties.code.localeCompare(b.properties.code));
    features.forEach((f) => {
      const r = byCode.get(f.properties.code);
      const klass = r.class_index === null ? null : values.classes[r.class_index];
      const label = `${r.name} (${r.code}): ${r.text}` + (klass && values.metric.startsWith("indicator:") ? `, Klasse ${klass.label}` : "");
      const link = el("a", { href: r.url, class: "choropleth-region", "aria-label": label, "data-code": r.code }, svg);
      el("title", {}, link).textContent = label;
      const d = rings(f.geometry).map((poly) => poly.map((ring) => "M" + ring.map(project).join("L") + "Z").join("")).join("");
      el("path", { d: d, fill: klass ? classFill(defs, klass, r.class_index, "map") : NODATA, stroke: "#1b1b1b", "stroke-width": 1,
        "stroke-linejoin": "round" }, link);
      const show = () => { details.textContent = label; };
      link.addEventListener("mouseenter", show);
      link.addEventListener("focus", show);
    });
    canvas.replaceChildren(svg);
    legend(figure, values);
    const exportBox = figure.querySelector(".choropleth__export");
    if (exportBox) {
      exportBox.hidden = false;
      exportBox.querySelectorAll("button[data-export]").forEach((b) => {
        b.addEventListener("click", () => download(svg, figure.dataset.name || "karte", b.dataset.export, values));
      });
    }
  }

  function swatch(klass, index) {
    const svg = el("svg", { class: "legend__swatch", width: 24, height: 16, viewBox: "0 0 24 16", "aria-hidden": "true", focusable: "false" });
    const defs = el("defs", {}, svg);
    let fill;
    if (klass === null) {
      hatch(defs, "nodata-legend");
      fill = "url(#nodata-legend)";
    } else {
      fill = classFill(defs, klass, index, "legend");
    }
    el("rect", { x: 0.5, y: 0.5, width: 23, height: 15, fill: fill, stroke: "#1b1b1b" }, svg);
    return svg;
  }

  // Caption and legend from the API's answer: title, period, note, classes with their counts.
  function legend(figure, values) {
    const title = figure.querySelector(".choropleth__title");
    if (title) title.textContent = values.title + (values.period ? " (Stand " + values.period + ")" : "");
    const note = figure.querySelector(".choropleth__note");
    if (note) note.textContent = values.note || "";
    const list = figure.querySelector(".map-legend");
    if (!list) return;
    const items = values.classes.map((c, i) => [c, i,
      `${c.label}${c.hatched ? " (schraffiert)" : ""}: ${c.count} ${c.count === 1 ? "Raum" : "Räume"}`]);
    items.push([null, -1, "schraffiert: kein Wert"]);
    list.replaceChildren(...items.map(([klass, i, text]) => {
      const li = document.createElement("li");
      li.append(swatch(klass, i), text);
      return li;
    }));
    list.hidden = false;
  }

  function standalone(svg, values) {
    const copy = svg.cloneNode(true);
    copy.setAttribute("xmlns", SVG);
    const vb = svg.viewBox.baseVal;
    copy.setAttribute("width", vb.width);
    copy.setAttribute("height", vb.height);
    const desc = el("desc", {});
    desc.textContent = values.title + (values.period ? ", Stand " + values.period : "") + ". Legende: " +
      values.classes.map((c) => `${c.color} = ${c.label}`).join("; ") + "; schraffiert = kein Wert.";
    copy.insertBefore(desc, copy.firstChild.nextSibling);
    return new XMLSerializer().serializeToString(copy);
  }

  function save(blob, filename) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function download(svg, name, format, values) {
    const text = standalone(svg, values);
    if (format === "svg") {
      save(new Blob([text], { type: "image/svg+xml" }), name + ".svg");
      return;
    }
    const vb = svg.viewBox.baseVal, ratio = 2;
    const img = new Image();
    img.onload = () => {
      const c = document.createElement("canvas");
      c.width = vb.width * ratio;
      c.height = vb.height * ratio;
      const ctx = c.getContext("2d");
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, c.width, c.height);
      ctx.drawImage(img, 0, 0, c.width, c.height);
      c.toBlob((blob) => save(blob, name + ".png"), "image/png");
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
  }

  function initMap(figure) {
    Promise.all([getJSON(figure.dataset.geoUrl), getJSON(figure.dataset.valuesUrl)])
      .then(([geo, values]) => drawMap(figure, geo, values))
      .catch((e) => status(figure, "Die Karte konnte nicht geladen werden (" + e.message + "). Die Werte stehen in der Tabelle."));
  }

  // --- charts ----------------------------------------------------------------------------

  function axisLabel(parent, x, y, text, anchor) {
    const t = el("text", { x: x, y: y, "text-anchor": anchor || "end", class: "chart__label" }, parent);
    t.textContent = text;
    return t;
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  }

  function spendingChart(canvas, data) {
    const allocated = data.totals.allocated === null ? null : Number(data.totals.allocated);
    let spent = 0;
    const cumulative = data.months.map((m) => (spent += Number(m.spent)));
    const plan = allocated === null ? null : data.months.map((m, i) => allocated * (i + 1) / 12);
    const top = niceMax(Math.max(...cumulative, ...(plan || [0])));
    const W = 720, H = 300, L = 110, R = 16, T = 16, B = 40;
    const x = (i) => L + (i + 0.5) * (W - L - R) / 12, y = (v) => T + (H - T - B) * (1 - v / top);
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart__svg", "aria-hidden": "true", focusable: "false" });
    for (let i = 0; i <= 4; i++) {
      const v = top * i / 4;
      el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "chart__grid" }, svg);
      axisLabel(svg, L - 6, y(v) + 4, euro.format(v));
    }
    const month = new Intl.DateTimeFormat("de-DE", { month: "short" });
    data.months.forEach((m, i) => axisLabel(svg, x(i), H - B + 18, month.format(new Date(m.month + "-01T12:00:00")), "middle"));
    const line = (values, cls) => el("polyline", { points: values.map((v, i) => `${x(i)},${y(v)}`).join(" "), class: cls }, svg);
    if (plan) line(plan, "chart__line chart__line--plan");
    line(cumulative, "chart__line chart__line--spent");
    cumulative.forEach((v, i) => el("circle", { cx: x(i), cy: y(v), r: 3.5, class: "chart__dot" }, svg));
    const legend = el("g", { transform: `translate(${L + 8},${T + 4})` }, svg);
    el("line", { x1: 0, x2: 28, y1: 6, y2: 6, class: "chart__line chart__line--spent" }, legend);
    axisLabel(legend, 34, 10, "ausgegeben (kumuliert)", "start");
    if (plan) {
      el("line", { x1: 0, x2: 28, y1: 24, y2: 24, class: "chart__line chart__line--plan" }, legend);
      axisLabel(legend, 34, 28, "Plan (Zuweisung ÷ 12, kumuliert)", "start");
    }
    canvas.replaceChildren(svg);
  }

  function regionsChart(canvas, data) {
    const regions = new Map();
    data.rows.forEach((r) => {
      const e = regions.get(r.region) || { name: r.region_name, allocated: 0, spent: 0 };
      e.allocated += r.allocated === null ? 0 : Number(r.allocated);
      e.spent += Number(r.spent);
      regions.set(r.region, e);
    });
    const rows = [...regions.values()];
    if (!rows.length) { canvas.replaceChildren(); return; }
    const top = niceMax(Math.max(...rows.map((r) => Math.max(r.allocated, r.spent))));
    const W = 720, L = 200, R = 16, T = 24, rowH = 26, H = T + rows.length * rowH + 24;
    const x = (v) => L + (W - L - R) * v / top;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart__svg", "aria-hidden": "true", focusable: "false" });
    for (let i = 0; i <= 4; i++) {
      const v = top * i / 4;
      el("line", { x1: x(v), x2: x(v), y1: T - 4, y2: H - 20, class: "chart__grid" }, svg);
      axisLabel(svg, x(v), H - 6, euro.format(v), i === 0 ? "start" : (i === 4 ? "end" : "middle"));
    }
    rows.forEach((r, i) => {
      const y0 = T + i * rowH;
      axisLabel(svg, L - 6, y0 + 16, r.name.length > 28 ? r.name.slice(0, 27) + "…" : r.name);
      el("rect", { x: L, y: y0 + 3, width: Math.max(0, x(r.allocated) - L), height: 18, class: "chart__bar chart__bar--allocated" }, svg);
      el("rect", { x: L, y: y0 + 8, width: Math.max(0, x(Math.max(r.spent, 0)) - L), height: 8, class: "chart__bar chart__bar--spent" }, svg);
    });
    const legend = el("g", { transform: `translate(${L},4)` }, svg);
    el("rect", { x: 0, y: 2, width: 18, height: 12, class: "chart__bar chart__bar--allocated" }, legend);
    axisLabel(legend, 24, 12, "zugewiesen", "start");
    el("rect", { x: 120, y: 5, width: 18, height: 6, class: "chart__bar chart__bar--spent" }, legend);
    axisLabel(legend, 144, 12, "ausgegeben", "start");
    canvas.replaceChildren(svg);
  }

  // Small multiples: one line per indicator over its periods (GET /api/v1/indicator-values/?region=…).
  function trendsChart(canvas, data, figure) {
    const names = JSON.parse(figure.querySelector("script[type='application/json']").textContent);
    const series = new Map();
    (data.results || data).forEach((v) => {
      if (!(v.indicator in names)) return;
      if (!series.has(v.indicator)) series.set(v.indicator, []);
      series.get(v.indicator).push([v.period, Number(v.value)]);
    });
    const number = new Intl.NumberFormat("de-DE", { maximumFractionDigits: 2 });
    const W = 220, H = 90, wrap = document.createElement("div");
    wrap.className = "sparklines";
    [...series.entries()].sort((a, b) => names[a[0]].name.localeCompare(names[b[0]].name, "de")).forEach(([key, points]) => {
      points.sort((a, b) => a[0].localeCompare(b[0]));
      const values = points.map((p) => p[1]);
      const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
      const x = (i) => 10 + i * (W - 20) / Math.max(points.length - 1, 1), y = (v) => 62 - 40 * (v - lo) / span;
      const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "sparkline", focusable: "false" });
      const title = el("text", { x: 0, y: 12, class: "chart__label chart__label--title" }, svg);
      title.textContent = names[key].name.length > 34 ? names[key].name.slice(0, 33) + "…" : names[key].name;
      el("polyline", { points: points.map((p, i) => `${x(i)},${y(p[1])}`).join(" "), class: "chart__line chart__line--spent" }, svg);
      points.forEach((p, i) => el("circle", { cx: x(i), cy: y(p[1]), r: 3, class: "chart__dot" }, svg));
      const unit = names[key].unit ? " " + names[key].unit : "";
      axisLabel(svg, 10, H - 6, `${points[0][0].slice(0, 7)}: ${number.format(values[0])}${unit}`, "start");
      axisLabel(svg, W - 4, H - 6, `${number.format(values[values.length - 1])}${unit}`, "end");
      wrap.appendChild(svg);
    });
    canvas.replaceChildren(wrap);
  }

  const CHARTS = { spending: spendingChart, regions: regionsChart, trends: trendsChart };
  const cache = new Map();

  function initChart(figure) {
    const draw = CHARTS[figure.dataset.chart];
    const canvas = figure.querySelector(".chart__canvas");
    if (!draw || !canvas) return;
    const url = figure.dataset.url;
    if (!cache.has(url)) cache.set(url, getJSON(url));
    cache.get(url).then((data) => draw(canvas, data, figure)).catch(() => {
      canvas.textContent = "Das Diagramm konnte nicht geladen werden. Die Werte stehen in der Tabelle.";
    });
  }

  // Locations as points inside a boundary (GeoJSON of the region, /api/v1/locations/?region=…).
  function initPointMap(figure) {
    const canvas = figure.querySelector(".chart__canvas");
    Promise.all([getJSON(figure.dataset.geoUrl), getJSON(figure.dataset.pointsUrl)]).then(([geo, data]) => {
      const points = (data.results || data).filter((p) => p.latitude !== null && p.longitude !== null)
        .map((p) => [Number(p.longitude), Number(p.latitude)]);
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      const grow = ([x, y]) => { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); };
      geo.features.forEach((f) => rings(f.geometry).forEach((poly) => poly.forEach((ring) => ring.forEach(grow))));
      points.forEach(grow);
      if (!isFinite(minX)) return;
      const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180), width = 640, pad = 8;
      const scale = (width - 2 * pad) / Math.max((maxX - minX) * k, 1e-9);
      const height = Math.round((maxY - minY) * scale + 2 * pad);
      const project = ([x, y]) => [(pad + (x - minX) * k * scale).toFixed(1), (pad + (maxY - y) * scale).toFixed(1)];
      const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "map--points", focusable: "false" });
      geo.features.forEach((f) => {
        const d = rings(f.geometry).map((poly) => poly.map((ring) => "M" + ring.map(project).join("L") + "Z").join("")).join("");
        el("path", { d: d, fill: "#edf8b1", stroke: "#1b1b1b", "stroke-width": 1.5 }, svg);
      });
      points.forEach((p) => {
        const [cx, cy] = project(p);
        el("circle", { cx: cx, cy: cy, r: 5, fill: "#253494", stroke: "#ffffff", "stroke-width": 1.5, class: "map-point" }, svg);
      });
      canvas.replaceChildren(svg);
    }).catch(() => { canvas.textContent = "Die Karte konnte nicht geladen werden. Die Standorte stehen in der Tabelle."; });
  }

  function init() {
    document.querySelectorAll("figure.pointmap[data-points-url]").forEach(initPointMap);
    document.querySelectorAll("button[data-print]").forEach((b) => {
      b.hidden = false;
      b.addEventListener("click", () => window.print());
    });
    document.querySelectorAll("figure.choropleth[data-values-url]").forEach(initMap);
    document.querySelectorAll("figure.chart[data-url]").forEach(initChart);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
