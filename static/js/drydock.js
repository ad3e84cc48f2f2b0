// Progressive enhancement for course pages: every feature here is optional,
// the pages work without JavaScript.
(function () {
  "use strict";
  var body = document.body;

  // The token of the page's forms, for requests sent from script (lab.js and
  // quiz.js run after this file and use it too).
  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  window.Drydock = { csrfToken: csrfToken };

  // A copy button on every code block.
  function addCopyButtons() {
    document.querySelectorAll(".prose pre > code").forEach(function (code) {
      var pre = code.parentElement;
      var wrapper = document.createElement("div");
      wrapper.className = "code-block";
      pre.parentNode.insertBefore(wrapper, pre);
      wrapper.appendChild(pre);
      if (!navigator.clipboard) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.textContent = body.dataset.copyLabel;
      button.setAttribute("aria-label", body.dataset.copyCodeLabel);
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(code.innerText.replace(/\n$/, "")).then(function () {
          button.textContent = body.dataset.copiedLabel;
          setTimeout(function () { button.textContent = body.dataset.copyLabel; }, 1500);
        });
      });
      wrapper.appendChild(button);
    });
  }

  // A lesson counts as read once its end has been on screen.
  function markReadAtEnd() {
    var end = document.getElementById("lesson-end");
    if (!end || !end.dataset.markReadUrl || !("IntersectionObserver" in window)) return;
    var observer = new IntersectionObserver(function (entries) {
      if (!entries.some(function (e) { return e.isIntersecting; })) return;
      observer.disconnect();
      fetch(end.dataset.markReadUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        if (!response.ok) return;
        var form = document.getElementById("mark-read-form");
        var status = document.getElementById("read-status");
        if (form) form.hidden = true;
        if (status) { status.hidden = false; status.setAttribute("role", "status"); }
      });
    }, { threshold: 1.0 });
    observer.observe(end);
  }

  // Click-to-run: shell code blocks the server marked runnable (class
  // "runnable": courses/markdown.py) get a button that types them into the
  // learner's open terminal (this page's, or a lab open in another tab).
  // Blocks marked shown-only, or that start a pager or an interactive
  // program, never get one.
  function addRunButtons() {
    var channel = "BroadcastChannel" in window ? new BroadcastChannel("drydock-terminal") : null;
    var shown = false;
    function show() {
      if (shown) return;
      shown = true;
      document.querySelectorAll(".prose pre > code.runnable").forEach(function (code) {
        var holder = code.parentElement.parentElement;
        var button = document.createElement("button");
        button.type = "button";
        button.className = "run-button";
        button.textContent = body.dataset.runLabel;
        button.setAttribute("aria-label", body.dataset.runCodeLabel);
        button.addEventListener("click", function () {
          var command = code.innerText.replace(/\n$/, "");
          if (window.drydockTerminal) window.drydockTerminal.run(command);
          else if (channel) channel.postMessage({ type: "run", command: command });
        });
        holder.appendChild(button);
      });
    }
    if (window.drydockTerminal) show();
    document.addEventListener("drydock:terminal", show);
    if (channel) {
      channel.onmessage = function (event) { if (event.data.type === "here") show(); };
      channel.postMessage({ type: "who" });
    }
  }

  // The language switcher applies on change; its button stays for keyboard users without JS.
  function autoSubmitLanguage() {
    var select = document.getElementById("language-select");
    if (select) select.addEventListener("change", function () { select.form.submit(); });
  }

  // On a phone the table of contents starts folded, so the lesson comes first.
  function foldTableOfContents() {
    var toc = document.getElementById("toc-details");
    if (toc && window.matchMedia("(max-width: 62rem)").matches) toc.open = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    foldTableOfContents();
    addCopyButtons();
    addRunButtons();
    markReadAtEnd();
    autoSubmitLanguage();
  });
})();
