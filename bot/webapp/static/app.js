// The tgtrader dashboard (docs/dashboard.md). Plain JavaScript served by the bot: no
// CDN, no build step. Every request carries Telegram's initData (Authorization: tma …); the
// server validates it each time. Data is put into the page with textContent only.
"use strict";

const launch = new URLSearchParams(location.hash.slice(1));
const tg = window.Telegram && window.Telegram.WebApp;
const initData = (tg && tg.initData) || launch.get("tgWebAppData") || "";
const auth = { Authorization: "tma " + initData };
let me = null;
let state = null;
let chartKey = null;
const notes = new Map(); // proposal id → {text, cls, busy}: kept across re-renders
const dash = { renders: 0, firstRenderMs: null, charts: 0, errors: [] };
window.__dash = dash;

function postEvent(type, data) {
  // Telegram's clients: a native webview proxy, or the parent frame of Telegram Web.
  const payload = JSON.stringify(data || {});
  try {
    if (window.TelegramWebviewProxy) window.TelegramWebviewProxy.postEvent(type, payload);
    else if (window.external && "notify" in window.external) window.external.notify(JSON.stringify({ eventType: type, eventData: data || {} }));
    else if (window.parent !== window) window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data || {} }), "*");
  } catch (e) { /* not inside Telegram */ }
}

function applyTheme() {
  let theme = {};
  try { theme = JSON.parse(launch.get("tgWebAppThemeParams") || "{}"); } catch (e) { theme = {}; }
  if (tg && tg.themeParams) theme = Object.assign(theme, tg.themeParams);
  const root = document.documentElement.style;
  for (const [k, v] of Object.entries(theme)) {
    if (typeof v === "string" && /^#[0-9a-fA-F]{3,8}$/.test(v)) root.setProperty("--tg-" + k.replace(/_/g, "-"), v);
  }
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "k") node.dataset.k = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function kv(label, value, k, cls) {
  return el("div", { class: "kv" }, el("span", { class: "hint" }, label), el("span", { k, class: cls || "" }, value ?? "—"));
}

function tone(signed) {
  if (typeof signed !== "string") return "";
  return signed.startsWith("-") ? "neg" : (/^\+0\.00$/.test(signed) ? "" : (signed.startsWith("+") ? "pos" : ""));
}

function put(id, ...nodes) {
  const box = document.getElementById(id);
  box.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
}

function renderPositions(s) {
  const nodes = [];
  for (const p of s.positions) {
    nodes.push(el("div", { class: "pos", k: "pos-" + p.key },
      el("div", { class: "row" },
        el("b", {}, p.symbol + (p.leg !== "BOTH" ? " · " + p.leg + " leg" : "")), el("span", { class: "badge " + (p.side === "long" ? "pos" : "neg"), k: "pos-" + p.key + "-side" }, p.side + " " + p.leverage + "x")),
      kv("Size", p.qty, "pos-" + p.key + "-qty"),
      kv("Entry", p.entry, "pos-" + p.key + "-entry"),
      kv("Mark", p.mark, "pos-" + p.key + "-mark"),
      kv("Unrealized", p.upnl + " USDT", "pos-" + p.key + "-upnl", tone(p.upnl)),
      kv("Liquidation", p.liq, "pos-" + p.key + "-liq"),
      kv("Stop-loss", p.stop, "pos-" + p.key + "-stop"),
      kv("Take-profit", p.take, "pos-" + p.key + "-take"),
      p.trail ? kv("Trailing stop", p.trail, "pos-" + p.key + "-trail") : null,
      el("div", { class: "line", k: "pos-" + p.key + "-line" }, p.line)));
  }
  for (const sym of s.symbols) {
    if (s.positions.some((p) => p.symbol === sym)) continue;
    const m = s.markets[sym] || {};
    nodes.push(el("div", { class: "pos flat", k: "pos-" + sym },
      el("div", { class: "row" }, el("b", {}, sym), el("span", { class: "badge" }, "no position")),
      kv("Price", m.price, "price-" + sym)));
  }
  for (const sym of s.symbols) {
    const m = s.markets[sym] || {};
    if (s.positions.some((p) => p.symbol === sym)) nodes.push(kv(sym + " price", m.price, "price-" + sym));
    if (m.last_closed) nodes.push(el("div", { class: "line hint" }, "Last closed " + m.last_closed + " UTC · " + m.ohlcv));
  }
  put("positions", ...nodes);
}

function renderAccount(s) {
  const a = s.account, t = s.pnl.today, all = s.pnl.all;
  put("account",
    el("div", { class: "hint" }, "Balance · " + a.mode),
    kv("Wallet", a.wallet + " USDT", "wallet"),
    kv("Equity", a.equity + " USDT", "equity"),
    kv("Margin used", a.margin + " USDT", "margin"),
    kv("Available", a.available + " USDT", "available"),
    a.funding ? kv("Funding", a.funding + " USDT", "funding") : null,
    a.loss_limit ? kv("Today's net · limit", (a.loss_limit.net === null ? "not measured yet" : a.loss_limit.net + " USDT")
      + (a.loss_limit.limit ? " · " + a.loss_limit.limit + " USDT" : "") + (a.loss_limit.tripped ? " · ⛔ tripped" : ""),
      "loss-limit", a.loss_limit.tripped ? "warn" : tone(a.loss_limit.net || "0")) : null,
    a.exchange ? el("div", { class: "sub" },
      el("div", { class: "hint" }, "Binance"),
      kv("Wallet", a.exchange.wallet + " USDT", "ex-wallet"),
      kv("Available", a.exchange.available + " USDT", "ex-available"),
      kv("Unrealized", a.exchange.unrealized + " USDT", "ex-unrealized", tone(a.exchange.unrealized))) : null,
    el("h3", {}, "Today" + (t.since ? " (since " + t.since + " UTC)" : "")),
    kv("Net (closed)", t.realized + " USDT", "today-net", tone(t.realized)),
    kv("Unrealized", t.unrealized + " USDT", "today-unrealized", tone(t.unrealized)),
    kv("Trades closed", t.trades + (t.win_rate !== null ? " · win rate " + t.win_rate + " %" : ""), "today-trades"),
    el("div", { class: "line", k: "pnl-today" }, t.lines.join("\n")),
    el("h3", {}, "All time"),
    kv("Net (closed)", all.realized + " USDT", "all-net", tone(all.realized)),
    kv("Fees", all.fees + " USDT", "all-fees"),
    el("div", { class: "line", k: "pnl-all" }, all.lines.join("\n")));
}

function setNote(id, text, cls, busy) {
  notes.set(id, { text, cls, busy });
  const note = document.querySelector('[data-k="prop-' + id + '-note"]');
  if (note) { note.textContent = text; note.className = "note " + (cls || ""); }
  for (const b of document.querySelectorAll('[data-k="confirm-' + id + '"], [data-k="reject-' + id + '"]')) b.disabled = busy;
}

async function act(p, verb) {
  setNote(p.id, verb === "confirm" ? "Confirming…" : "Rejecting…", "", true);
  try {
    const r = await fetch("api/proposals/" + p.id + "/" + verb, {
      method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, auth),
      body: JSON.stringify({ instance: state.instance }),
    });
    let answer = {};
    try { answer = await r.json(); } catch (e) { answer = { note: r.status === 401 ? "Session expired: open the dashboard again." : "Refused (" + r.status + ")." }; }
    setNote(p.id, answer.note || "", answer.ok ? "ok" : "bad", false);
    notes.get(p.id).outside = true; // shown under "Done" once the proposal left the list
    renderDone();
  } catch (e) {
    setNote(p.id, "The bot did not answer; try again.", "bad", false);
  }
}

function renderDone() {
  // The answers to this page's own presses, kept after the proposal left the pending list.
  const open = new Set((state ? state.proposals : []).map((p) => p.id));
  const done = [...notes.entries()].filter(([id, n]) => n.outside && !open.has(id));
  put("done", ...done.map(([id, n]) => el("div", { class: "note " + (n.cls || ""), k: "prop-" + id + "-note" }, "#" + id + ": " + n.text)));
}

function renderProposals(s) {
  renderDone();
  if (!s.proposals.length) { put("proposals", el("div", { class: "hint", k: "no-proposals" }, "none")); return; }
  put("proposals", ...s.proposals.map((p) => {
    const n = notes.get(p.id) || {};
    return el("div", { class: "prop", k: "prop-" + p.id },
      el("pre", { class: "msg", k: "prop-" + p.id + "-text" }, p.text),
      me && me.admin && p.actionable ? el("div", { class: "actions" },
        el("button", { class: "confirm", k: "confirm-" + p.id, disabled: n.busy, onclick: () => act(p, "confirm") }, "Confirm"),
        el("button", { class: "reject", k: "reject-" + p.id, disabled: n.busy, onclick: () => act(p, "reject") }, "Reject")) : null,
      el("div", { class: "note " + (n.cls || ""), k: "prop-" + p.id + "-note" }, n.text || ""));
  }));
}

function renderTrades(s) {
  if (!s.trades.length) { put("trades", el("div", { class: "hint", k: "no-trades" }, "No fills yet.")); return; }
  put("trades", el("table", { k: "trades" },
    el("thead", {}, el("tr", {}, ...["UTC", "", "side", "qty", "price", "fee"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...s.trades.map((t, i) => el("tr", { k: "trade-" + i },
      el("td", {}, t.time.slice(5)), el("td", {}, t.leg), el("td", { class: t.side === "BUY" ? "pos" : "neg" }, t.side),
      el("td", {}, t.qty + " " + t.symbol.replace(/USDT$/, "")), el("td", {}, t.price), el("td", {}, t.fee))))));
}

function renderStream(s) {
  const st = s.stream;
  put("stream",
    kv("Market stream", st.state, "stream-state", st.state === "connected" ? "pos" : (st.state === "stopped" ? "neg" : "warn")),
    kv("Last message", st.last_message, "stream-age"),
    kv("Reconnects today", String(st.reconnects_today), "stream-reconnects"),
    kv("Account stream", st.account_stream, "account-stream"),
    el("details", {}, el("summary", { class: "hint" }, "/status"), el("pre", { class: "msg", k: "status-text" }, s.status_text)));
}

function renderStrategy(s) {
  put("strategy",
    kv("Strategy", s.strategy, "strategy-name"),
    el("table", { class: "params" }, el("tbody", {}, ...s.params.map((p) => el("tr", { title: p.help },
      el("td", {}, p.name), el("td", { k: "param-" + p.name }, p.value), el("td", { class: "hint" }, p.range))))));
}

function renderProtections(s) {
  put("protections", el("ul", {}, ...s.protections.map((line, i) => el("li", { k: "protection-" + i, class: /^(Paused|Trading stopped|🔒)|⛔/.test(line) ? "warn" : "" }, line))));
}

async function image(url) {
  const r = await fetch(url, { headers: auth, cache: "no-store" });
  if (!r.ok) return null;
  return URL.createObjectURL(await r.blob());
}

async function renderCharts(s) {
  if (s.chart_key === chartKey) return;
  chartKey = s.chart_key;
  const nodes = [];
  for (const sym of s.symbols) {
    const src = await image("api/chart.png?symbol=" + encodeURIComponent(sym));
    nodes.push(src ? el("img", { src, alt: sym + " " + s.interval + " chart", k: "chart-" + sym })
                   : el("div", { class: "hint" }, "No " + sym + " candles stored yet."));
  }
  document.getElementById("chart-title").textContent = "Chart · " + s.interval + " · " + s.strategy;
  put("charts", ...nodes);
  const eq = await image("api/equity.png");
  put("equity", eq ? el("img", { src: eq, alt: "equity curve", k: "equity-chart" })
                   : el("div", { class: "hint", k: "no-equity" }, "The curve appears after the first trade."));
  dash.charts += 1;
}

async function render(s) {
  state = s;
  document.getElementById("head").textContent = s.symbols.join(", ") + " " + s.interval;
  document.getElementById("sub").textContent = s.mode + " · " + s.strategy + (s.paused ? " · ⏸ paused" : "") + (me ? " · " + me.who + (me.admin ? " (admin)" : "") : "");
  renderPositions(s);
  renderAccount(s);
  renderProposals(s);
  renderTrades(s);
  renderStream(s);
  renderStrategy(s);
  renderProtections(s);
  document.getElementById("foot").textContent = "Updated " + new Date().toISOString().slice(11, 19) + " UTC";
  dash.renders += 1;
  document.body.dataset.renders = String(dash.renders);
  const charts = refreshCharts(s);
  if (dash.firstRenderMs === null) {  // the first full render: the pictures too
    await charts;
    dash.firstRenderMs = performance.now();
    document.body.dataset.ready = "1";
  }
}

// The pictures are fetched beside the live updates, never in their way: the event stream goes
// on rendering while a chart is drawn (each takes the bot a few hundred ms), and a state that
// arrives meanwhile has its pictures fetched once the current ones are in (the newest only).
let chartsWanted = null;
let chartsBusy = null;
function refreshCharts(s) {
  chartsWanted = s;
  if (chartsBusy === null) {
    chartsBusy = (async () => {
      try {
        while (chartsWanted !== null) {
          const next = chartsWanted;
          chartsWanted = null;
          await renderCharts(next);
        }
      } catch (e) {
        dash.errors.push(String(e));
      } finally {
        chartsBusy = null;
      }
    })();
  }
  return chartsBusy;
}

function gate(status, text) {
  for (const c of document.querySelectorAll(".card")) c.hidden = true;
  const g = document.getElementById("gate");
  g.hidden = false;
  g.dataset.status = String(status);
  g.textContent = status === 401
    ? "This dashboard opens from the bot in Telegram (/dashboard). The link has expired or is not valid: open it again."
    : (text || "Not shown.");
  document.getElementById("sub").textContent = "";
  document.body.dataset.ready = "1";
}

function setLive(on) {
  document.getElementById("live").className = "dot" + (on ? " on" : "");
}

async function stream() {
  for (;;) {
    try {
      const r = await fetch("api/events", { headers: auth, cache: "no-store" });
      if (r.status === 401 || r.status === 403) { setLive(false); gate(r.status, await r.text()); return; }
      setLive(true);
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) await render(JSON.parse(data));
        }
      }
    } catch (e) {
      dash.errors.push(String(e));
    }
    setLive(false);
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

async function main() {
  applyTheme();
  postEvent("web_app_ready");
  postEvent("web_app_expand");
  const r = await fetch("api/state", { headers: auth, cache: "no-store" });
  if (!r.ok) { gate(r.status, await r.text()); return; }
  const s = await r.json();
  me = s.me;
  await render(s);
  stream();
}

main().catch((e) => { dash.errors.push(String(e)); gate(0, "The dashboard could not load: " + e); });
