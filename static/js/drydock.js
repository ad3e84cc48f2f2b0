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
  // A copy button on every code block (of `root`: lab.js calls it again for a solution shown later).
  function addCopyButtons(root) {
    (root || document).querySelectorAll(".prose pre > code").forEach(function (code) {
      var pre = code.parentElement;
      if (pre.parentElement.classList.contains("code-block")) return;
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

  // A lesson counts as read once its end has been on screen and the learner has spent a minimum time on
  // the page (data-min-seconds): scrolling straight to the bottom marks nothing.
  window.Drydock = { csrfToken: csrfToken, addCopyButtons: addCopyButtons };

  function markReadAtEnd() {
    var end = document.getElementById("lesson-end");
    if (!end || !end.dataset.markReadUrl || !("IntersectionObserver" in window)) return;
    var openedAt = Date.now();
    var minimum = Number(end.dataset.minSeconds || 0) * 1000;
    var seen = false, sent = false, timer = null;
    function send() {
      if (sent || !seen) return;
      var waited = Date.now() - openedAt;
      if (waited < minimum) {
        if (!timer) timer = setTimeout(function () { timer = null; send(); }, minimum - waited);
        return;
      }
      sent = true;
      observer.disconnect();
      fetch(end.dataset.markReadUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        if (!response.ok) return;
        var form = document.getElementById("mark-read-form");
        var status = document.getElementById("read-status");
        var unread = document.getElementById("mark-unread-form");
        if (form) form.hidden = true;
        if (unread) unread.hidden = false;
        if (status) { status.hidden = false; status.setAttribute("role", "status"); }
      });
    }
    // "On screen": nine tenths of it. Whole (threshold 1) was never reached where the end's height is a fraction of a
    // pixel and it sat at the window's bottom edge (60.19 px tall, bottom at 900.06 px of 900): that lesson stayed unread.
    var observer = new IntersectionObserver(function (entries) {
      var visible = entries.some(function (e) { return e.isIntersecting && e.intersectionRatio >= 0.9; });
      // The end must still be on screen when the minimum time is up: a learner who scrolled back up is reading.
      seen = visible;
      if (!visible && timer) { clearTimeout(timer); timer = null; }
      if (visible) send();
    }, { threshold: [0, 0.9] });
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

  // Forms that destroy something (a sandbox's Stop, Reset, the playground's Start fresh) carry data-confirm: a
  // dialog asks first, and what it posts says it asked (confirm=yes). Without JavaScript a GET form leads to the
  // server's confirmation page instead, and a POST without confirm=yes gets one, so nothing is lost either way.
  function confirmed() {
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "confirm";
    field.value = "yes";
    return field;
  }

  function confirmDestructiveForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.confirmed === "1" || typeof HTMLDialogElement !== "function") return;
        event.preventDefault();
        var dialog = document.createElement("dialog");
        dialog.className = "confirm-dialog";
        dialog.setAttribute("aria-labelledby", "confirm-dialog-text");
        var text = document.createElement("p");
        text.id = "confirm-dialog-text";
        text.textContent = form.dataset.confirm;
        var actions = document.createElement("div");
        actions.className = "confirm-actions";
        var yes = document.createElement("button");
        yes.type = "button";
        yes.className = "danger";
        yes.textContent = form.dataset.confirmButton;
        var no = document.createElement("button");
        no.type = "button";
        no.className = "secondary";
        no.textContent = body.dataset.cancelLabel;
        actions.appendChild(yes);
        actions.appendChild(no);
        dialog.appendChild(text);
        dialog.appendChild(actions);
        document.body.appendChild(dialog);
        dialog.addEventListener("close", function () { dialog.remove(); });
        no.addEventListener("click", function () { dialog.close(); });
        yes.addEventListener("click", function () {
          if ((form.getAttribute("method") || "get").toLowerCase() === "post") {
            form.dataset.confirmed = "1";
            form.appendChild(confirmed());
            form.submit();
            return;
          }
          // The GET form names the action's URL: post to it, as the confirmation page would.
          var post = document.createElement("form");
          post.method = "post";
          post.action = form.action;
          var token = document.createElement("input");
          token.type = "hidden";
          token.name = "csrfmiddlewaretoken";
          token.value = csrfToken();
          post.appendChild(token);
          post.appendChild(confirmed());
          document.body.appendChild(post);
          post.submit();
        });
        dialog.showModal();
        no.focus();
      });
    });
  }

  // Figures open full-size (on a phone a diagram is unreadable at the column's width): each image becomes
  // a link to itself. Code blocks wider than their box get keyboard focus (so arrows scroll them) and the
  // class that shows the scroll cue (drydock.css).
  function enhanceFiguresAndCode() {
    document.querySelectorAll(".prose img").forEach(function (img) {
      if (img.closest("a")) return;
      var link = document.createElement("a");
      link.href = img.currentSrc || img.src;
      link.className = "figure-link";
      link.target = "_blank";
      link.title = body.dataset.figureLabel;
      img.parentNode.insertBefore(link, img);
      link.appendChild(img);
    });
    function markScrollable() {
      document.querySelectorAll(".prose pre").forEach(function (pre) {
        var scrollable = pre.scrollWidth > pre.clientWidth + 1;
        pre.classList.toggle("is-scrollable", scrollable);
        if (scrollable) {
          pre.tabIndex = 0;
          pre.setAttribute("role", "region");
          pre.setAttribute("aria-label", body.dataset.codeScrollLabel);
        }
      });
    }
    markScrollable();
    window.addEventListener("resize", markScrollable);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhanceFiguresAndCode();
    confirmDestructiveForms();
    foldTableOfContents();
    addCopyButtons();
    addRunButtons();
    markReadAtEnd();
    autoSubmitLanguage();
  });
})();
