// Quiz attempt page, progressively enhanced: the form works without JavaScript
// (Save / Submit buttons). With it, each question is saved as soon as it
// changes, and a countdown kept in step with the server submits at the deadline.
(function () {
  "use strict";

  // URL-encoded rather than multipart: the server parses it in a fraction of the time, and a class
  // sitting an exam sends thousands of these a minute (bench/exam_burst.py).
  function fieldsetData(fieldset) {
    var data = new URLSearchParams();
    fieldset.querySelectorAll("input, select, textarea").forEach(function (field) {
      if (!field.name || field.disabled) return;
      if ((field.type === "radio" || field.type === "checkbox") && !field.checked) return;
      data.append(field.name, field.value);
    });
    return data;
  }

  function setupAutosave(form, clock) {
    var labels = form.dataset;
    form.querySelectorAll("fieldset.question").forEach(function (fieldset) {
      var status = fieldset.querySelector(".save-status");
      var timer = null;
      var retries = 0;

      function show(text, state) {
        status.textContent = text;
        status.dataset.state = state;
      }

      function save() {
        timer = null;
        show(labels.savingLabel, "saving");
        fetch(form.action, {
          method: "POST",
          headers: { "X-CSRFToken": window.Drydock.csrfToken(), "Accept": "application/json" },
          credentials: "same-origin",
          body: fieldsetData(fieldset)
        }).then(function (response) {
          return response.json().then(function (body) { return { response: response, body: body }; });
        }).then(function (result) {
          var body = result.body;
          retries = 0;
          if (clock && body.seconds_left !== undefined && body.seconds_left !== null) clock.sync(body.seconds_left);
          if (result.response.ok) { show(labels.savedLabel, "saved"); return; }
          if (result.response.status === 409 && body.results_url) {
            show(body.error, "error");
            window.location.assign(body.results_url);
            return;
          }
          var message = (body.errors && body.errors[fieldset.dataset.slot]) || body.error || "";
          show(message, "error");
        }).catch(function () {
          show(labels.offlineLabel, "error");
          retries += 1;
          schedule(Math.min(30000, 2000 * retries));
        });
      }

      function schedule(delay) {
        if (timer) clearTimeout(timer);
        timer = setTimeout(save, delay);
      }

      fieldset.addEventListener("change", function () { schedule(0); });
      fieldset.addEventListener("input", function (event) {
        if (event.target.tagName === "INPUT" && event.target.type === "text") schedule(800);
      });
      fieldset.addEventListener("keydown", function (event) {
        // Enter in a text answer saves it rather than submitting the whole attempt.
        if (event.key === "Enter" && event.target.tagName === "INPUT") { event.preventDefault(); schedule(0); }
      });
    });
  }

  function setupClock(form, submitButton) {
    var element = document.getElementById("quiz-clock");
    if (!element) return null;
    var value = document.getElementById("quiz-clock-value");
    var deadline = Date.now() + Number(element.dataset.secondsLeft) * 1000;
    var submitted = false;

    function render() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      value.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      element.classList.toggle("is-urgent", left <= 60);
      if (left === 0 && !submitted) {
        submitted = true;
        element.setAttribute("aria-live", "assertive");
        value.textContent = form.dataset.timeUpLabel;
        form.dataset.autoSubmit = "1";
        if (form.requestSubmit) form.requestSubmit(submitButton); else submitButton.click();
      }
    }

    function resync() {
      fetch(element.dataset.clockUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) return;
          if (body.status !== "in_progress") { window.location.assign(body.results_url); return; }
          clock.sync(body.seconds_left);
        })
        .catch(function () {});
    }

    var clock = {
      sync: function (secondsLeft) { deadline = Date.now() + secondsLeft * 1000; render(); }
    };
    render();
    setInterval(render, 1000);
    setInterval(resync, 30000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) resync(); });
    return clock;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("quiz-form");
    if (!form || !window.fetch || !window.URLSearchParams) return;
    var submitButton = document.getElementById("quiz-submit");
    var clock = setupClock(form, submitButton);
    setupAutosave(form, clock);
    submitButton.addEventListener("click", function (event) {
      if (form.dataset.autoSubmit) return;
      if (!window.confirm(form.dataset.confirmLabel)) event.preventDefault();
    });
  });
})();
