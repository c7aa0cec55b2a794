// mygpt playground: plain JavaScript over the JSON API of `mygpt serve` (no build step, no CDN).
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const state = { models: [], limits: {}, columns: new Map(), controller: null, pinned: null };

// ---------- the API ----------

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

// POST /api/generate and call onEvent(name, data) for each server-sent event as it arrives.
async function streamEvents(body, signal, onEvent) {
  const response = await fetch("/api/generate", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.error || `HTTP ${response.status}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      onEvent(name, JSON.parse(data));
    }
  }
}

// ---------- helpers ----------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Low probability red, high green: the colour of a token drawn with probability p.
function probabilityColour(p) {
  const hue = Math.round(120 * Math.max(0, Math.min(1, p)));
  return `hsl(${hue}, 75%, 84%)`;
}

function visible(text) {
  return text.replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5").replace(/ /g, "\u2423");
}

function formatNumber(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : String(n);
}

function settings() {
  const topK = Number($("#top-k").value), topP = Number($("#top-p").value);
  return {
    max_new_tokens: Number($("#length").value),
    temperature: Number($("#temperature").value),
    top_k: topK === 0 ? null : topK,
    top_p: topP >= 1 ? null : topP,
    seed: Number($("#seed").value) || 0,
    greedy: $("#greedy").checked,
  };
}

function setStatus(text) { $("#status").textContent = text; }

// ---------- one column per model ----------

class Column {
  constructor(model) {
    this.model = model;
    this.node = $("#column-template").content.firstElementChild.cloneNode(true);
    this.node.dataset.model = model.name;
    $(".name", this.node).textContent = model.name;
    const tok = model.tokenizer;
    $(".summary", this.node).textContent =
      `${tok.kind} · ${formatNumber(model.parameters.total)} parameters · ${model.path}`;
    this.output = $(".output", this.node);
    this.ids = [];            // the token ids shown in the output: the prompt's, then the generated ones
    this.spans = [];          // their spans, in the same order
    this.attention = null;    // the last attention answer (for the ids above)
    this.highlight = null;    // the row highlighted in the heatmap (index into this.ids)
    this.fillCard();
    this.fillAttentionControls();
  }

  fillCard() {
    const card = $(".card", this.node), m = this.model;
    const add = (key, value) => { card.append(element("dt", "", key), element("dd", "", value)); };
    add("file", `${m.checkpoint} (${formatNumber(m.file_bytes)} bytes)`);
    add("saved with", m.torch_version ? `torch ${m.torch_version}` : "torch version not recorded");
    const tok = m.tokenizer;
    add("tokenizer", `${tok.kind}, vocabulary ${formatNumber(tok.vocab_size)}` +
        (tok.merges ? ` (${tok.symbols} symbols + ${formatNumber(tok.merges)} merges)` : ""));
    add("config", Object.entries(m.config).map(([k, v]) => `${k}=${v}`).join(", "));
    add("parameters", formatNumber(m.parameters.total));
    for (const [name, count] of Object.entries(m.parameters.by_module)) add(`\u2003${name}`, formatNumber(count));
    const t = m.training;
    add("training", t ? `step ${t.step}` + (t.saved.length ? ` (${t.saved.join(" and ")} state saved)` : "")
                      : "none (weights only)");
    if (t && t.settings) add("settings", Object.entries(t.settings).map(([k, v]) => `${k}=${v}`).join(", "));
    add("sampling", m.path);
  }

  fillAttentionControls() {
    const layer = $(".layer", this.node), head = $(".head", this.node);
    for (let i = 0; i < this.model.config.num_layers; i++) layer.append(new Option(String(i), String(i)));
    for (let i = 0; i < this.model.config.num_heads; i++) head.append(new Option(String(i), String(i)));
    layer.addEventListener("change", () => this.loadAttention());
    head.addEventListener("change", () => this.drawHeatmap());
  }

  showError(message) {
    const node = $(".error", this.node);
    node.hidden = !message;
    node.textContent = message || "";
  }

  addToken(info, kind) {
    const span = element("span", `token ${kind}`, info.text === "" ? "" : info.text);
    span.dataset.index = String(this.ids.length);
    if (kind === "generated") span.style.background = probabilityColour(info.model_p);
    span.addEventListener("mouseenter", () => showTooltip(this, span, info, kind));
    span.addEventListener("mouseleave", () => { if (state.pinned !== span) hideTooltip(this); });
    span.addEventListener("click", () => { state.pinned = state.pinned === span ? null : span; });
    this.output.append(span);
    this.ids.push(info.id);
    this.spans.push(span);
    return span;
  }

  reset() {
    this.output.textContent = "";
    this.ids = [];
    this.spans = [];
    this.showError("");
    $(".meta", this.node).textContent = "";
  }

  async tokenize(text) {
    const pieces = $(".pieces", this.node);
    if (!text) { pieces.textContent = ""; $(".count", this.node).textContent = "0"; return; }
    try {
      const data = await api("/api/tokenize", { model: this.model.name, text });
      pieces.textContent = "";
      for (const token of data.tokens) {
        const node = element("span", "piece", visible(token.piece));
        node.title = `id ${token.id}`;
        node.append(element("span", "id", String(token.id)));
        pieces.append(node);
      }
      $(".count", this.node).textContent = String(data.count);
      this.showError("");
      return data.tokens;
    } catch (err) {
      pieces.textContent = "";
      this.showError(err.message);
      return null;
    }
  }

  async generate(prompt, signal) {
    this.reset();
    const meta = $(".meta", this.node);
    const started = performance.now();
    let first = null, steps = 0;
    try {
      await streamEvents({ model: this.model.name, prompt, ...settings() }, signal, (name, data) => {
        if (name === "start") {
          for (const token of data.prompt) this.addToken(token, "prompt");
        } else if (name === "token") {
          if (first === null) first = performance.now() - started;
          steps += 1;
          this.addToken(data, "generated");
          this.output.scrollTop = this.output.scrollHeight;
          meta.textContent = `${steps} tokens, first after ${first.toFixed(0)} ms`;
        } else if (name === "done") {
          const seconds = (performance.now() - started) / 1000;
          meta.textContent = `${data.steps} tokens in ${seconds.toFixed(2)} s` +
            (first === null ? "" : `, first after ${first.toFixed(0)} ms`) +
            (data.reason === "length" ? "" : ` (${data.reason})`);
        } else if (name === "error") {
          this.showError(data.error);
        }
      });
    } catch (err) {
      if (err.name === "AbortError") meta.textContent += " (stopped)";
      else this.showError(err.message);
    }
    if (this.ids.length) await this.loadAttention();
  }

  async loadAttention() {
    if (!this.ids.length) return;
    const layer = Number($(".layer", this.node).value);
    try {
      this.attention = await api("/api/attention", { model: this.model.name, ids: this.ids, layer });
      this.attention.layer = layer;
      this.drawHeatmap();
    } catch (err) {
      this.showError(err.message);
    }
  }

  drawHeatmap() {
    const a = this.attention, canvas = $(".heatmap", this.node);
    if (!a) return;
    const head = Number($(".head", this.node).value);
    const weights = a.layers[String(a.layer)][head];
    const n = weights.length;
    const cell = Math.max(2, Math.floor(360 / n));
    canvas.width = canvas.height = cell * n;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        const w = weights[i][j];
        const shade = Math.round(255 * (1 - Math.sqrt(w)));
        ctx.fillStyle = `rgb(${shade}, ${shade}, 255)`;
        ctx.fillRect(j * cell, i * cell, cell, cell);
      }
    }
    const row = this.highlight === null ? -1 : this.highlight - a.offset;
    if (row >= 0 && row < n) {
      ctx.strokeStyle = "#e8590c";
      ctx.lineWidth = Math.max(2, cell / 3);
      ctx.strokeRect(0, row * cell, (row + 1) * cell, cell);
    }
    canvas.dataset.drawn = `layer ${a.layer} head ${head}`;
    canvas.dataset.row = String(row);
    const shown = a.offset ? `the last ${n} of ${a.offset + n} tokens (the context window)` : `${n} tokens`;
    let note = `${shown}; row i: how token i spreads its attention over itself and the tokens before it`;
    if (row >= 0 && row < n) {
      const top = weights[row].map((w, j) => [w, j]).filter(([w]) => w > 0).sort((x, y) => y[0] - x[0]).slice(0, 3);
      note = `row ${row} (${JSON.stringify(a.pieces[row])}) attends most to ` +
        top.map(([w, j]) => `${JSON.stringify(a.pieces[j])} ${w.toFixed(2)}`).join(", ");
    } else if (this.highlight !== null) {
      note = `that token is before the ${n}-token window the model sees now`;
    }
    $(".attention-note", this.node).textContent = note;
  }
}

// ---------- tooltip: a token's probability and its alternatives ----------

function showTooltip(column, span, info, kind) {
  const tip = $("#tooltip");
  tip.textContent = "";
  if (kind === "prompt") {
    tip.append(element("div", "chosen", `prompt token ${JSON.stringify(info.text)} (id ${info.id})`));
  } else {
    tip.append(element("div", "chosen",
      `${JSON.stringify(info.text || info.token)}: p = ${info.p.toFixed(4)} as drawn, ` +
      `${info.model_p.toFixed(4)} by the model`));
    const table = element("table", "alternatives");
    for (const alt of info.top) {
      const row = element("tr", alt.id === info.id ? "is-chosen" : "");
      const bar = element("span", "bar");
      bar.style.width = `${Math.max(1, Math.round(80 * alt.model_p))}px`;
      const barCell = element("td");
      barCell.append(bar);
      row.append(element("td", "tok", JSON.stringify(alt.token)), element("td", "", alt.model_p.toFixed(4)), barCell);
      table.append(row);
    }
    tip.append(element("div", "", "most likely next tokens (the model's probabilities):"), table);
  }
  const box = span.getBoundingClientRect();
  tip.hidden = false;
  tip.style.left = `${Math.min(box.left, window.innerWidth - tip.offsetWidth - 8)}px`;
  tip.style.top = `${box.bottom + 6}px`;
  column.spans.forEach((s) => s.classList.remove("active"));
  span.classList.add("active");
  column.highlight = Number(span.dataset.index);
  column.drawHeatmap();
}

function hideTooltip(column) {
  $("#tooltip").hidden = true;
  column.spans.forEach((s) => s.classList.remove("active"));
  column.highlight = null;
  column.drawHeatmap();
}

// ---------- the page ----------

function selectedColumns() {
  return [...state.columns.values()].filter((c) => c.node.isConnected);
}

function layoutColumns() {
  const main = $("#columns");
  main.textContent = "";
  const boxes = [...document.querySelectorAll("#model-picker input")];
  const shown = boxes.length ? boxes.filter((b) => b.checked).map((b) => b.value) : [...state.columns.keys()];
  for (const name of shown) main.append(state.columns.get(name).node);
  refreshPrompt();
}

let promptTimer = null;
function refreshPrompt() {
  clearTimeout(promptTimer);
  promptTimer = setTimeout(async () => {
    const text = $("#prompt").value;
    await Promise.all(selectedColumns().map(async (column) => {
      const tokens = await column.tokenize(text);
      if (tokens && !column.spans.some((s) => s.classList.contains("generated"))) {
        column.reset();
        for (const token of tokens) column.addToken(token, "prompt");
        await column.loadAttention();
      }
    }));
  }, 250);
}

async function generateAll() {
  const prompt = $("#prompt").value;
  if (!prompt) { setStatus("type a prompt first"); return; }
  if (state.controller) state.controller.abort();
  const controller = state.controller = new AbortController();
  $("#generate").disabled = true;
  $("#stop").disabled = false;
  setStatus("generating…");
  await Promise.all(selectedColumns().map((c) => c.generate(prompt, controller.signal)));
  if (state.controller === controller) {
    state.controller = null;
    $("#generate").disabled = false;
    $("#stop").disabled = true;
    setStatus(controller.signal.aborted ? "stopped" : "done");
  }
}

function bindSliders() {
  for (const input of document.querySelectorAll(".settings input[type=range]")) {
    const output = input.parentElement.querySelector("output");
    const show = () => {
      const v = Number(input.value);
      output.textContent = input.id === "top-k" && v === 0 ? "off" : input.id === "top-p" && v >= 1 ? "off"
        : Number.isInteger(v) && input.step === "1" ? String(v) : v.toFixed(2);
    };
    input.addEventListener("input", show);
    show();
  }
  $("#greedy").addEventListener("change", () => {
    for (const id of ["temperature", "top-k", "top-p"]) $("#" + id).disabled = $("#greedy").checked;
  });
}

async function start() {
  bindSliders();
  let data;
  try {
    data = await api("/api/models");
  } catch (err) {
    setStatus(`cannot reach the server: ${err.message}`);
    return;
  }
  state.models = data.models;
  state.limits = data.limits;
  const length = $("#length");
  length.max = String(data.limits.max_new_tokens);
  length.dispatchEvent(new Event("input"));
  const picker = $("#model-picker");
  for (const model of data.models) {
    state.columns.set(model.name, new Column(model));
    if (data.models.length > 1) {  // one checkbox per model: which columns are shown side by side
      const label = element("label");
      const box = element("input");
      box.type = "checkbox";
      box.value = model.name;
      box.checked = true;
      box.addEventListener("change", layoutColumns);
      label.append(box, ` ${model.name}`);
      picker.append(label);
    }
  }
  layoutColumns();
  setStatus(`${data.models.length} model${data.models.length > 1 ? "s" : ""}: ` +
            data.models.map((m) => m.name).join(", "));
  $("#prompt").addEventListener("input", refreshPrompt);
  $("#prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && e.ctrlKey) generateAll(); });
  $("#generate").addEventListener("click", generateAll);
  $("#stop").addEventListener("click", () => { if (state.controller) state.controller.abort(); });
}

start();
