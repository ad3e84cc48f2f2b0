// Progressive enhancement for course pages: every feature here is optional,
// the pages work without JavaScript.
(function () {
  "use strict";
  var body = document.body;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // A copy button on every code block.
  function addCopyButtons() {
    if (!navigator.clipboard) return;
    document.querySelectorAll(".prose pre > code").forEach(function (code) {
      var pre = code.parentElement;
      var wrapper = document.createElement("div");
      wrapper.className = "code-block";
      pre.parentNode.insertBefore(wrapper, pre);
      wrapper.appendChild(pre);
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

  // The language switcher applies on change; its button stays for keyboard users without JS.
  function autoSubmitLanguage() {
    var select = document.getElementById("language-select");
    if (select) select.addEventListener("change", function () { select.form.submit(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    addCopyButtons();
    markReadAtEnd();
    autoSubmitLanguage();
  });
})();
