// Lab page: live sandbox progress, countdowns, heartbeat, and checks that
// show their verdict as soon as the worker stores it. Without JavaScript the
// forms still work (each action reloads the page).
(function () {
  "use strict";
  var lab = document.getElementById("lab");
  var stateNode = document.getElementById("sandbox-state");
  if (!lab || !stateNode) return;
  var state = JSON.parse(stateNode.textContent);

  function request(url, method, body) {
    return fetch(url, {
      method: method || "GET",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": window.Drydock.csrfToken() }
    }).then(function (response) {
      return response.json().then(function (data) { data.httpStatus = response.status; return data; });
    });
  }

  // --- The live channel (labs/live_consumer.py): the server says when the sandbox or a Check's verdict changed
  // (labs/push.py), and the page asks for it at once; while the channel is open it asks by itself only now and then.
  var live = { open: false, listeners: { sandbox: [], check: [], open: [] } };
  live.on = function (what, listener) {
    live.listeners[what].push(listener);
    return function () { live.listeners[what] = live.listeners[what].filter(function (other) { return other !== listener; }); };
  };
  live.tell = function (what, event) {
    live.listeners[what].slice().forEach(function (listener) { listener(event || {}); });
  };

  // Asks `ask()` (a promise of the delay before asking again, or null when done) after that delay, or at once
  // when told; never two at a time: told while a request is out, it asks again as soon as that one answers.
  function follower(ask) {
    var timer = null, busy = false, again = false, done = false;
    function run() {
      if (done) return;
      if (busy) { again = true; return; }
      clearTimeout(timer);
      timer = null;
      busy = true;
      // An answer that could not be shown (or a page changed under it) is asked again later, never given up on.
      ask().catch(function () { return 2000; }).then(function (delay) {
        busy = false;
        if (delay === null) { done = true; return; }
        if (again) { again = false; run(); return; }
        timer = setTimeout(run, delay);
      });
    }
    return {
      now: run,
      later: function (delay) { if (!done && !busy) { clearTimeout(timer); timer = setTimeout(run, delay); } }
    };
  }

  // --- Sandbox preparation: a progress bar fed by the row's step counter.
  function preparing(status) {
    return status === "waiting" || status === "requested" || status === "provisioning";
  }

  function followProvisioning() {
    if (!preparing(state.status)) return;
    var bar = document.getElementById("sandbox-progress");
    var label = document.getElementById("sandbox-status");
    var follow = follower(function () {
      return request(state.status_url).then(function (next) {
        if (bar) { bar.max = next.steps_total; bar.value = next.step; }
        var elapsed = next.elapsed !== undefined ? " (" + next.elapsed + " s)" : "";
        if (label) label.textContent = next.status_label.charAt(0).toUpperCase() + next.status_label.slice(1) + (next.step_label ? " — " + next.step_label : "") + elapsed;
        if (preparing(next.status)) return live.open ? 2000 : 300;
        window.location.reload();
        return null;
      });
    });
    // What changed while the channel was (re)opening was not heard: asked at once when it opens.
    live.on("sandbox", follow.now);
    live.on("open", follow.now);
    follow.now();
  }

  // --- Countdowns: time to live and idle deadline, ticking every second.
  function format(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + " min " + (s < 10 ? "0" : "") + s + " s";
  }

  var deadlines = {};
  function setDeadline(id, seconds) {
    if (seconds === undefined || seconds === null) return;
    deadlines[id] = Date.now() + seconds * 1000;
  }
  function tick() {
    Object.keys(deadlines).forEach(function (id) {
      var node = document.getElementById(id);
      if (!node) return;
      var left = (deadlines[id] - Date.now()) / 1000;
      node.textContent = format(left);
      node.setAttribute("datetime", "PT" + Math.max(0, Math.floor(left)) + "S");
    });
  }

  // --- Heartbeat: an open, visible page keeps the sandbox from idling out.
  function heartbeat() {
    if (state.status !== "ready" || document.visibilityState !== "visible") return;
    request(lab.dataset.heartbeatUrl, "POST").then(function (next) {
      if (!next.live) { window.location.reload(); return; }
      setDeadline("idle-in", next.idle_in);
      setDeadline("expires-in", next.expires_in);
    });
  }

  // --- Checks: queue, then poll the submission until its verdict lands.
  function updateScore() {
    var tasks = document.querySelectorAll(".task");
    var passed = document.querySelectorAll(".task.is-passed").length;
    var progress = document.getElementById("lab-progress");
    if (progress) progress.value = passed;
    var score = document.getElementById("lab-score");
    if (score) score.textContent = lab.dataset.scoreTemplate.replace("{passed}", passed).replace("{total}", tasks.length);
    var finished = document.getElementById("lab-finished");
    if (finished) finished.hidden = !(tasks.length && passed >= tasks.length);
  }

  // As templates/labs/_verdict.html: the colour of its status, an icon and a word, then the message.
  var ICONS = { passed: "\u2713", failed: "\u2715", regressed: "\u2715", error: "!" };
  function setVerdict(verdict, status, message) {
    verdict.className = "verdict verdict-" + status;
    verdict.textContent = "";
    var kind = lab.dataset["verdict" + status.charAt(0).toUpperCase() + status.slice(1)];
    if (!ICONS[status] || !kind) {
      verdict.textContent = message;
      return;
    }
    var icon = document.createElement("span");
    icon.className = "message-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = ICONS[status];
    var body = document.createElement("span");
    body.className = "verdict-body";
    var word = document.createElement("span");
    word.className = "verdict-kind";
    word.textContent = kind;
    var text = document.createElement("span");
    text.className = "verdict-text";
    text.textContent = message;
    body.appendChild(word);
    body.appendChild(document.createTextNode(" "));
    body.appendChild(text);
    verdict.appendChild(icon);
    verdict.appendChild(document.createTextNode(" "));
    verdict.appendChild(body);
  }

  function showVerdict(task, submission) {
    setVerdict(task.querySelector(".verdict"), submission.status, submission.message);
    if (submission.passed) {
      task.classList.add("is-passed");
      task.querySelector(".task-badge").hidden = false;
      updateScore();
      offerSolution(task);
    } else if (submission.status === "failed") {
      var failures = Number(task.dataset.failures || 0) + 1;
      task.dataset.failures = failures;
      var hint = task.querySelector(".hint");
      if (hint && failures >= 2) hint.hidden = false;
      if (failures >= 2) offerSolution(task);
    }
  }

  // --- Solution: offered with the hint (or once passed); opening it posts, which records it, and shows it in place.
  function offerSolution(task) {
    var form = task.querySelector(".solution-form");
    if (form) form.hidden = false;
  }

  // The page's Copy and Run buttons were added at load (static/js/drydock.js); a solution shown later gets its own,
  // in the same box around its code block (the buttons are placed in that box).
  function addRunButtons(container) {
    window.Drydock.addCopyButtons(container);
    if (!window.drydockTerminal) return;
    container.querySelectorAll("pre > code.runnable").forEach(function (code) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "run-button";
      button.textContent = document.body.dataset.runLabel;
      button.setAttribute("aria-label", document.body.dataset.runCodeLabel);
      button.addEventListener("click", function () { window.drydockTerminal.run(code.innerText.replace(/\n$/, "")); });
      code.parentElement.parentElement.appendChild(button);
    });
  }

  document.querySelectorAll(".solution-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var task = form.closest(".task");
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      request(form.action, "POST", new FormData(form)).then(function (data) {
        if (data.error) {
          button.disabled = false;
          setVerdict(task.querySelector(".verdict"), "error", data.error);
          return;
        }
        var details = document.createElement("details");
        details.className = "solution";
        details.id = "solution-" + task.dataset.task;
        details.open = true;
        var summary = document.createElement("summary");
        summary.textContent = button.dataset.summary;
        var body = document.createElement("div");
        body.className = "prose";
        // The pack's own Markdown, rendered and sanitised by the server like the hint.
        body.innerHTML = data.solution_html;
        details.appendChild(summary);
        details.appendChild(body);
        form.replaceWith(details);
        addRunButtons(body);
        summary.focus();
      }).catch(function () { button.disabled = false; });
    });
  });

  function followSubmission(task, submission) {
    var delay = 100;
    var unheard = [];
    var follow = follower(function () {
      return request(submission.url).then(function (next) {
        if (next.done) {
          unheard.forEach(function (stop) { stop(); });
          showVerdict(task, next);
          task.querySelector(".check-form button[type=submit]").disabled = false;
          return null;
        }
        delay = Math.min(delay * 1.5, 1000);
        return live.open ? 2000 : delay;
      });
    });
    unheard.push(live.on("check", function (event) { if (event.task === task.dataset.task) follow.now(); }));
    unheard.push(live.on("open", follow.now));
    // Asked soon in any case: the verdict may have been told before this follower listened.
    follow.later(delay);
  }

  document.querySelectorAll(".check-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var task = form.closest(".task");
      var button = form.querySelector("button[type=submit]");
      var verdict = task.querySelector(".verdict");
      button.disabled = true;
      setVerdict(verdict, "grading", lab.dataset.checkingLabel);
      request(form.action, "POST", new FormData(form)).then(function (submission) {
        if (submission.error) {
          setVerdict(verdict, "error", submission.error);
          button.disabled = false;
          return;
        }
        followSubmission(task, submission);
      }).catch(function () {
        setVerdict(verdict, "error", lab.dataset.errorLabel);
        button.disabled = false;
      });
    });
  });

  document.querySelectorAll(".task").forEach(function (task) {
    var verdict = task.querySelector(".verdict");
    if (verdict.classList.contains("verdict-queued") || verdict.classList.contains("verdict-grading")) {
      followSubmission(task, { url: task.dataset.lastUrl });
    }
  });

  // --- Live checks: the sandbox watcher pushes tasks passed and the timeline's new lines (labs/live_consumer.py).
  function followLive() {
    var timeline = document.getElementById("timeline");
    if (!timeline || !timeline.dataset.liveWs || !window.WebSocket) return;
    var lines = document.getElementById("timeline-lines");
    var delay = 500;
    (function open() {
      var socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + timeline.dataset.liveWs);
      socket.onopen = function () { delay = 500; live.open = true; live.tell("open"); };
      socket.onmessage = function (message) {
        var data;
        try { data = JSON.parse(message.data); } catch (error) { return; }
        if (data.type === "changed" && (data.what === "sandbox" || data.what === "check")) { live.tell(data.what, data); return; }
        if (data.type !== "update") return;
        // A task that had to hold until the end and no longer does turns back (its message says what changed).
        (data.regressed || []).forEach(function (undone) {
          var task = document.getElementById("tache-" + undone.task);
          if (!task) return;
          task.classList.remove("is-passed");
          task.querySelector(".task-badge").hidden = true;
          setVerdict(task.querySelector(".verdict"), "regressed", undone.message);
          updateScore();
        });
        (data.passed || []).forEach(function (passed) {
          var task = document.getElementById("tache-" + passed.task);
          if (task && !task.classList.contains("is-passed")) showVerdict(task, { status: "passed", passed: true, message: passed.message });
        });
        (data.lines || []).forEach(function (line) {
          var item = document.createElement("li");
          item.className = "timeline-" + line.kind;
          var time = document.createElement("time");
          time.setAttribute("datetime", line.at);
          time.textContent = new Date(line.at).toLocaleTimeString([], { hour12: false });
          item.appendChild(time);
          item.appendChild(document.createTextNode(" " + line.text));
          lines.appendChild(item);
          lines.hidden = false;
        });
      };
      socket.onclose = function (event) {
        live.open = false;
        if (event.code === 4401 || event.code === 4403) return;
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    })();
  }

  // --- Jump links (narrow screens): to the terminal, which takes the keyboard, and back to the tasks' heading.
  document.querySelectorAll("a.jump-link").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.hash.slice(1));
      if (!target) return;  // without its target the link does what a link does
      event.preventDefault();
      if (target.id === "terminal-panel" && window.drydockTerminal) {
        window.drydockTerminal.show();
        return;
      }
      target.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    });
  });

  followProvisioning();
  followLive();
  if (state.status === "ready") {
    setDeadline("expires-in", state.expires_in);
    setDeadline("idle-in", state.idle_in);
    tick();
    setInterval(tick, 1000);
    setInterval(heartbeat, 60000);
    document.addEventListener("visibilitychange", heartbeat);
  }
})();
