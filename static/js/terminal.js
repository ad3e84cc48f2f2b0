// The sandbox's terminal: xterm.js over a websocket to a tmux session in the
// sandbox. Reconnects on its own after a drop (the shell and what runs in it
// survive in tmux); stops when the server says the sandbox has ended.
(function () {
  "use strict";
  var box = document.getElementById("terminal");
  if (!box || !window.Terminal) return;
  var statusNode = document.getElementById("terminal-status");
  var screenReader = document.getElementById("terminal-screen-reader");
  var term = new window.Terminal({
    cursorBlink: true,
    convertEol: false,
    scrollback: 5000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace',
    fontSize: 14,
    screenReaderMode: localStorage.getItem("drydock.screenReader") === "1",
    theme: { background: "#0f1b2a", foreground: "#e6edf3", cursor: "#f5a100" }
  });
  var fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  if (screenReader) {
    screenReader.checked = term.options.screenReaderMode;
    screenReader.addEventListener("change", function () {
      term.options.screenReaderMode = screenReader.checked;
      localStorage.setItem("drydock.screenReader", screenReader.checked ? "1" : "0");
    });
  }

  var socket = null, ended = false, retries = 0, queue = [];

  function setStatus(text) { if (statusNode) statusNode.textContent = text; }

  function send(message) {
    var text = JSON.stringify(message);
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
    else if (message.type === "input") queue.push(text);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + box.dataset.wsPath + "?rows=" + term.rows + "&cols=" + term.cols);
    socket.binaryType = "arraybuffer";
    socket.onmessage = function (event) {
      if (typeof event.data !== "string") {
        term.write(new Uint8Array(event.data));
        return;
      }
      var message = JSON.parse(event.data);
      if (message.type === "ready") {
        retries = 0;
        setStatus(box.dataset.connectedLabel);
        box.dataset.ready = "1";
        send({ type: "resize", rows: term.rows, cols: term.cols });
        while (queue.length) socket.send(queue.shift());
      } else if (message.type === "ended") {
        ended = true;
        setStatus(box.dataset.endedLabel);
        term.write("\r\n\x1b[33m" + message.message + "\x1b[0m\r\n");
        setTimeout(function () { window.location.reload(); }, 2500);
      } else if (message.type === "exited" || message.type === "error") {
        term.write("\r\n\x1b[33m" + message.message + "\x1b[0m\r\n");
      }
    };
    socket.onclose = function (event) {
      box.dataset.ready = "";
      if (ended || event.code === 4403 || event.code === 4401 || event.code === 4429) {
        if (!ended) setStatus(box.dataset.endedLabel);
        return;
      }
      setStatus(box.dataset.reconnectingLabel);
      retries += 1;
      setTimeout(connect, Math.min(10000, 500 * Math.pow(2, retries - 1)));
    };
  }

  term.onData(function (data) { send({ type: "input", data: data }); });
  term.onResize(function (size) { send({ type: "resize", rows: size.rows, cols: size.cols }); });
  if ("ResizeObserver" in window) new ResizeObserver(function () { fit.fit(); }).observe(box);
  window.addEventListener("resize", function () { fit.fit(); });

  // Copy and paste: Ctrl+Shift+C / Ctrl+Shift+V (Ctrl+C stays an interrupt), and buttons.
  function copySelection() {
    var text = term.getSelection();
    if (text && navigator.clipboard) navigator.clipboard.writeText(text);
  }
  function paste() {
    if (navigator.clipboard && navigator.clipboard.readText) {
      navigator.clipboard.readText().then(function (text) { if (text) term.paste(text); });
    }
  }
  term.attachCustomKeyEventHandler(function (event) {
    if (event.type === "keydown" && event.ctrlKey && event.shiftKey) {
      if (event.code === "KeyC") { copySelection(); return false; }
      if (event.code === "KeyV") { paste(); event.preventDefault(); return false; }
    }
    return true;
  });
  var copyButton = document.getElementById("terminal-copy");
  var pasteButton = document.getElementById("terminal-paste");
  if (copyButton) copyButton.addEventListener("click", copySelection);
  if (pasteButton) pasteButton.addEventListener("click", function () { paste(); term.focus(); });

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
    term.focus();
    commands(text).forEach(function (command) { send({ type: "input", data: command + "\r" }); });
  }
  window.drydockTerminal = { run: run, commands: commands };
  if ("BroadcastChannel" in window) {
    var channel = new BroadcastChannel("drydock-terminal");
    channel.onmessage = function (event) {
      if (event.data.type === "run") run(event.data.command);
      if (event.data.type === "who") channel.postMessage({ type: "here" });
    };
    channel.postMessage({ type: "here" });
  }
  document.dispatchEvent(new Event("drydock:terminal"));

  connect();
  term.focus();
})();
