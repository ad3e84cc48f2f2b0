// The sandbox's terminals: xterm.js over a websocket to a tmux session in the
// sandbox, one tab each (each its own shell). A tab reconnects on its own after
// a drop (the shell and what runs in it survive in tmux) and stops when the
// server says the sandbox has ended.
//
// The history is tmux's own (every line, even when tmux redrew the screen
// instead of sending each one, and after a reload): the wheel and Shift+PgUp
// send the keys grader/engine.py TERMINAL_KEYS binds to tmux's copy mode, and
// the next key typed leaves it. tmux leaves the mouse to the browser, so a
// selection is the browser's own and Copy copies what it shows.
(function () {
  "use strict";
  var panel = document.getElementById("terminal-panel");
  var first = document.getElementById("terminal");
  if (!panel || !first || !window.Terminal) return;

  var KEYS = {
    lineUp: "\x1b[9001~", lineDown: "\x1b[9002~", leaveHistory: "\x1b[9003~",
    pageUp: "\x1b[5;2~", pageDown: "\x1b[6;2~"  // Shift+PgUp, Shift+PgDn as xterm sends them
  };
  var PIXELS_PER_LINE = 33;  // a wheel notch (100 px) scrolls three lines
  var MOST_LINES_PER_WHEEL = 500;
  var FONT_SIZES = [10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24];
  var THEMES = {
    dark: {
      background: "#0f1b2a", foreground: "#e6edf3", cursor: "#f5a100", cursorAccent: "#0f1b2a", selectionBackground: "#3a5a80",
      blue: "#6cb6ff", brightBlue: "#9ecbff"
    },
    light: {
      background: "#ffffff", foreground: "#1b2430", cursor: "#0b5cad", cursorAccent: "#ffffff", selectionBackground: "#b6d4f5",
      black: "#1b2430", red: "#b3261e", green: "#1e7a3c", yellow: "#8a5a00", blue: "#0b5cad", magenta: "#8b2f97", cyan: "#0e6f7a", white: "#556070",
      brightBlack: "#556070", brightRed: "#a11a1a", brightGreen: "#17612f", brightYellow: "#6e4800", brightBlue: "#084a8c",
      brightMagenta: "#6f2379", brightCyan: "#0a5862", brightWhite: "#3d4651"
    }
  };

  var lab = document.getElementById("lab");
  var stack = document.getElementById("terminal-stack");
  var tabList = document.getElementById("terminal-tabs");
  var newButton = document.getElementById("terminal-new");
  var closeButton = document.getElementById("terminal-close");
  var statusNode = document.getElementById("terminal-status");
  var screenReader = document.getElementById("terminal-screen-reader");
  var maxTabs = Math.max(1, Number(panel.dataset.maxTabs) || 1);
  var tabsKey = "drydock.terminals." + panel.dataset.sandbox;

  function stored(key, fallback) {
    try { var value = localStorage.getItem(key); return value === null ? fallback : value; } catch (e) { return fallback; }
  }
  function store(key, value) {
    try { localStorage.setItem(key, value); } catch (e) { /* private browsing: the choice lasts this page */ }
  }

  var fontSize = Number(stored("drydock.terminal.fontSize", 14));
  if (FONT_SIZES.indexOf(fontSize) < 0) fontSize = 14;
  var themeName = stored("drydock.terminal.theme", "dark") === "light" ? "light" : "dark";
  // xterm reads its strings when a terminal opens: the hidden input is named in the page's language.
  window.Terminal.strings.promptLabel = first.dataset.inputLabel || window.Terminal.strings.promptLabel;

  var sessions = [];
  var active = null;

  function setStatus(session, text) {
    session.status = text;
    if (session === active && statusNode) statusNode.textContent = text;
  }

  function send(session, message) {
    var text = JSON.stringify(message);
    if (session.socket && session.socket.readyState === WebSocket.OPEN) session.socket.send(text);
    else if (message.type === "input") session.queue.push(text);
  }

  // What the learner types; the first key after scrolling back leaves the history.
  function input(session, data) {
    if (session.inHistory) {
      session.inHistory = false;
      data = KEYS.leaveHistory + data;
    }
    send(session, { type: "input", data: data });
  }

  function fit(session) {
    // A hidden tab has no size: fitting it would shrink its shell to two columns.
    if (session.box.hidden || !session.box.offsetWidth || !session.box.offsetHeight) return;
    session.fit.fit();
  }

  function connect(session) {
    var box = session.box, term = session.term;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + first.dataset.wsPath + "?rows=" + term.rows + "&cols=" + term.cols + "&session=" + session.number);
    session.socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onmessage = function (event) {
      if (typeof event.data !== "string") {
        term.write(new Uint8Array(event.data));
        return;
      }
      var message = JSON.parse(event.data);
      if (message.type === "ready") {
        session.retries = 0;
        setStatus(session, first.dataset.connectedLabel);
        box.dataset.ready = "1";
        send(session, { type: "resize", rows: term.rows, cols: term.cols });
        while (session.queue.length) socket.send(session.queue.shift());
      } else if (message.type === "ended") {
        session.ended = true;
        setStatus(session, first.dataset.endedLabel);
        term.write("\r\n\x1b[33m" + message.message + "\x1b[0m\r\n");
        setTimeout(function () { window.location.reload(); }, 2500);
      } else if (message.type === "exited" || message.type === "error") {
        term.write("\r\n\x1b[33m" + message.message + "\x1b[0m\r\n");
      }
    };
    socket.onclose = function (event) {
      box.dataset.ready = "";
      if (session.closed) return;
      if (session.ended || event.code === 4403 || event.code === 4401 || event.code === 4429) {
        if (!session.ended) setStatus(session, first.dataset.endedLabel);
        return;
      }
      setStatus(session, first.dataset.reconnectingLabel);
      session.retries += 1;
      setTimeout(function () { if (!session.closed) connect(session); }, Math.min(10000, 500 * Math.pow(2, session.retries - 1)));
    };
  }

  function copySelection() {
    var text = active && active.term.getSelection();
    if (!text || !navigator.clipboard) return;
    navigator.clipboard.writeText(text).then(function () {
      var was = active.status;
      if (statusNode) statusNode.textContent = first.dataset.copiedLabel;
      setTimeout(function () { if (statusNode && statusNode.textContent === first.dataset.copiedLabel) statusNode.textContent = was; }, 1500);
    });
  }
  function paste() {
    if (active && navigator.clipboard && navigator.clipboard.readText) {
      var session = active;
      navigator.clipboard.readText().then(function (text) { if (text) session.term.paste(text); });
    }
  }

  function keyHandler(session) {
    return function (event) {
      if (event.type !== "keydown") return true;
      if (event.key === "Shift" || event.key === "Control" || event.key === "Alt" || event.key === "Meta") return true;
      var plain = !event.ctrlKey && !event.altKey && !event.metaKey;
      // Tab completes in the shell; Esc then Tab (or Shift+Tab) lets the browser move the focus on (WCAG 2.1.2).
      var escaped = session.escapedAt && Date.now() - session.escapedAt < 2000;
      session.escapedAt = event.key === "Escape" && plain && !event.shiftKey ? Date.now() : 0;
      if (event.key === "Tab" && plain && escaped) return false;
      if (event.ctrlKey && event.shiftKey && !event.altKey) {
        if (event.code === "KeyC") { copySelection(); return false; }
        if (event.code === "KeyV") { paste(); event.preventDefault(); return false; }
      }
      if (event.shiftKey && plain && (event.key === "PageUp" || event.key === "PageDown")) {
        event.preventDefault();
        send(session, { type: "input", data: event.key === "PageUp" ? KEYS.pageUp : KEYS.pageDown });
        if (event.key === "PageUp") session.inHistory = true;
        return false;
      }
      return true;
    };
  }

  function wheelHandler(session) {
    return function (event) {
      event.preventDefault();
      var lines = event.deltaMode === 1 ? event.deltaY : event.deltaMode === 2 ? event.deltaY * session.term.rows : event.deltaY / PIXELS_PER_LINE;
      session.wheel += lines;
      var whole = session.wheel < 0 ? Math.ceil(session.wheel) : Math.floor(session.wheel);
      session.wheel -= whole;
      if (whole) {
        var count = Math.min(Math.abs(whole), MOST_LINES_PER_WHEEL);
        if (whole < 0) session.inHistory = true;
        send(session, { type: "input", data: new Array(count + 1).join(whole < 0 ? KEYS.lineUp : KEYS.lineDown) });
      }
      return false;
    };
  }

  function open(number, box) {
    var term = new window.Terminal({
      cursorBlink: true,
      convertEol: false,
      scrollback: 0,  // the history is tmux's
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace',
      fontSize: fontSize,
      minimumContrastRatio: 4.5,
      screenReaderMode: stored("drydock.screenReader", "0") === "1",
      theme: THEMES[themeName]
    });
    var session = {
      number: number, box: box, term: term, fit: new window.FitAddon.FitAddon(), socket: null, queue: [],
      ended: false, closed: false, retries: 0, inHistory: false, escapedAt: 0, wheel: 0, status: statusNode ? statusNode.textContent : ""
    };
    term.loadAddon(session.fit);
    term.open(box);
    if (term.textarea) term.textarea.setAttribute("aria-describedby", "terminal-help");
    term.onData(function (data) { input(session, data); });
    term.onResize(function (size) { send(session, { type: "resize", rows: size.rows, cols: size.cols }); });
    term.attachCustomKeyEventHandler(keyHandler(session));
    term.attachCustomWheelEventHandler(wheelHandler(session));
    if ("ResizeObserver" in window) new ResizeObserver(function () { fit(session); }).observe(box);
    session.tab = makeTab(session);
    sessions.push(session);
    sessions.sort(function (a, b) { return a.number - b.number; });
    sessions.forEach(function (each) { tabList.appendChild(each.tab); });
    fit(session);
    connect(session);
    return session;
  }

  // --- Tabs: one per terminal, up to the learner's limit.
  function makeTab(session) {
    var tab = document.createElement("button");
    tab.type = "button";
    tab.className = "terminal-tab";
    tab.setAttribute("role", "tab");
    tab.id = "terminal-tab-" + session.number;
    tab.setAttribute("aria-controls", session.box.id);
    tab.textContent = panel.dataset.tabTemplate.replace("{number}", session.number);
    session.box.setAttribute("aria-labelledby", tab.id);
    tab.addEventListener("click", function () { select(session); });
    tab.addEventListener("keydown", function (event) {
      var index = sessions.indexOf(session);
      var next = event.key === "ArrowRight" ? sessions[(index + 1) % sessions.length]
        : event.key === "ArrowLeft" ? sessions[(index - 1 + sessions.length) % sessions.length] : null;
      if (next) { event.preventDefault(); select(next); next.tab.focus(); }
    });
    return tab;
  }

  function select(session) {
    active = session;
    sessions.forEach(function (each) {
      var chosen = each === session;
      each.box.hidden = !chosen;
      each.tab.setAttribute("aria-selected", chosen ? "true" : "false");
      each.tab.tabIndex = chosen ? 0 : -1;
      each.tab.classList.toggle("is-active", chosen);
    });
    if (statusNode) statusNode.textContent = session.status;
    fit(session);
    refreshButtons();
  }

  function refreshButtons() {
    if (newButton) newButton.hidden = sessions.length >= maxTabs;
    if (closeButton) closeButton.hidden = !active || active.number === 1;
    tabList.hidden = sessions.length < 2 && maxTabs < 2;
  }

  function rememberTabs() {
    store(tabsKey, JSON.stringify(sessions.map(function (each) { return each.number; })));
  }

  function addTab(number) {
    var box = document.createElement("div");
    box.className = "terminal-box";
    box.id = "terminal-" + number;
    box.dataset.session = String(number);
    box.setAttribute("role", "tabpanel");
    box.hidden = true;
    stack.appendChild(box);
    return open(number, box);
  }

  function freeNumber() {
    for (var number = 1; number <= maxTabs; number += 1) {
      if (!sessions.some(function (each) { return each.number === number; })) return number;
    }
    return null;
  }

  if (newButton) newButton.addEventListener("click", function () {
    var number = freeNumber();
    if (number === null) return;
    var session = addTab(number);
    select(session);
    rememberTabs();
    session.term.focus();
  });

  // Closing a tab detaches it: its shell keeps running in the sandbox, and the next tab of that number finds it.
  if (closeButton) closeButton.addEventListener("click", function () {
    var session = active;
    if (!session || session.number === 1) return;
    session.closed = true;
    if (session.socket) session.socket.close();
    session.term.dispose();
    session.box.remove();
    session.tab.remove();
    sessions.splice(sessions.indexOf(session), 1);
    select(sessions[0]);
    sessions[0].tab.focus();
    rememberTabs();
  });

  // --- Look and layout: font size, theme, instructions beside or above, full screen.
  function fitAll() { sessions.forEach(fit); }

  function setFontSize(size) {
    fontSize = size;
    store("drydock.terminal.fontSize", String(size));
    sessions.forEach(function (each) { each.term.options.fontSize = size; fit(each); });
    var smaller = document.getElementById("terminal-font-smaller"), larger = document.getElementById("terminal-font-larger");
    if (smaller) smaller.disabled = size === FONT_SIZES[0];
    if (larger) larger.disabled = size === FONT_SIZES[FONT_SIZES.length - 1];
  }
  function stepFont(step) {
    var index = FONT_SIZES.indexOf(fontSize) + step;
    if (index >= 0 && index < FONT_SIZES.length) setFontSize(FONT_SIZES[index]);
  }

  function setTheme(name) {
    themeName = name;
    store("drydock.terminal.theme", name);
    panel.classList.toggle("is-light", name === "light");
    sessions.forEach(function (each) { each.term.options.theme = THEMES[name]; });
    pressed("terminal-theme", name === "light");
  }

  function setStacked(stacked) {
    if (lab) lab.classList.toggle("is-stacked", stacked);
    store("drydock.lab.layout", stacked ? "stacked" : "beside");
    pressed("terminal-layout", stacked);
  }

  function setFullScreen(on) {
    panel.classList.toggle("is-fullscreen", on);
    document.documentElement.classList.toggle("has-fullscreen-terminal", on);
    pressed("terminal-fullscreen", on);
  }

  function pressed(id, on) {
    var button = document.getElementById(id);
    if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  function onClick(id, handler) {
    var button = document.getElementById(id);
    if (button) button.addEventListener("click", handler);
  }
  onClick("terminal-copy", copySelection);
  onClick("terminal-paste", function () { paste(); if (active) active.term.focus(); });
  onClick("terminal-font-smaller", function () { stepFont(-1); });
  onClick("terminal-font-larger", function () { stepFont(1); });
  onClick("terminal-theme", function () { setTheme(themeName === "light" ? "dark" : "light"); });
  onClick("terminal-layout", function () { setStacked(!(lab && lab.classList.contains("is-stacked"))); });
  onClick("terminal-fullscreen", function () { setFullScreen(!panel.classList.contains("is-fullscreen")); });
  if (screenReader) {
    screenReader.checked = stored("drydock.screenReader", "0") === "1";
    screenReader.addEventListener("change", function () {
      sessions.forEach(function (each) { each.term.options.screenReaderMode = screenReader.checked; });
      store("drydock.screenReader", screenReader.checked ? "1" : "0");
    });
  }
  window.addEventListener("resize", fitAll);

  setTheme(themeName);
  setStacked(stored("drydock.lab.layout", "beside") === "stacked");
  select(open(1, first));
  setFontSize(fontSize);
  // The tabs open before a reload come back, on the same shells.
  var reopened = [];
  try { reopened = JSON.parse(stored(tabsKey, "[]")) || []; } catch (e) { reopened = []; }
  reopened.forEach(function (number) {
    if (number > 1 && number <= maxTabs && !sessions.some(function (each) { return each.number === number; })) addTab(number);
  });
  refreshButtons();

  // Click-to-run: code blocks on this page, and lessons open in other tabs, type into this terminal,
  // one command per line; a line ending in a backslash goes on with the next, as in a script.
  // Only blocks the server marked runnable get a button (courses/runnable.py: no pager, no
  // interactive program, which would swallow the lines typed after it).
  function commands(text) {
    var found = [], pending = "";
    text.split("\n").forEach(function (line) {
      var trimmed = line.trim();
      if (/\\$/.test(trimmed) && !/\\\\$/.test(trimmed)) {
        pending += trimmed.slice(0, -1).trim() + " ";
        return;
      }
      var command = (pending + trimmed).trim();
      pending = "";
      if (command && command.charAt(0) !== "#") found.push(command);
    });
    if (pending.trim()) found.push(pending.trim());
    return found;
  }
  function run(text) {
    var session = active;  // the tab on show
    session.term.focus();
    commands(text).forEach(function (command) { input(session, command + "\r"); });
  }
  // The page's "Go to the terminal" link (static/js/lab.js): the terminal in view, whole if the window has room (with
  // what is above it, the way back to the tasks), then the keyboard. xterm paints its rows once they are on screen.
  function show() {
    var fits = panel.getBoundingClientRect().height <= window.innerHeight;
    panel.scrollIntoView({ block: fits ? "end" : "start" });
    fit(active);
    active.term.focus();
  }
  window.drydockTerminal = { run: run, commands: commands, show: show };
  if ("BroadcastChannel" in window) {
    var channel = new BroadcastChannel("drydock-terminal");
    channel.onmessage = function (event) {
      if (event.data.type === "run") run(event.data.command);
      if (event.data.type === "who") channel.postMessage({ type: "here" });
    };
    channel.postMessage({ type: "here" });
  }
  document.dispatchEvent(new Event("drydock:terminal"));
})();
