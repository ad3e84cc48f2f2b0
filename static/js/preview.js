// Web preview: lists the sandbox's published ports and opens one in a panel
// (a sandboxed iframe) or a new tab. Without JavaScript, the "Published ports"
// link leads to a page that lists them.
(function () {
  "use strict";
  var panel = document.getElementById("preview");
  if (!panel) return;
  var list = document.getElementById("preview-ports");
  var frameBox = document.getElementById("preview-frame");
  var frame = frameBox.querySelector("iframe");
  var refresh = document.getElementById("preview-refresh");

  function item(port) {
    var li = document.createElement("li");
    var label = document.createElement("span");
    label.textContent = panel.dataset.portLabel.replace("{port}", port.port).replace("{container}", port.container);
    var here = document.createElement("button");
    here.type = "button";
    here.className = "secondary small";
    here.textContent = panel.dataset.openHereLabel;
    here.addEventListener("click", function () { frame.src = port.url; frameBox.hidden = false; });
    var tab = document.createElement("a");
    tab.href = port.url;
    tab.target = "_blank";
    tab.rel = "noopener noreferrer";
    tab.textContent = panel.dataset.newTabLabel;
    li.append(label, " ", here, " ", tab);
    return li;
  }

  function load() {
    fetch(panel.dataset.portsUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        list.replaceChildren();
        if (data.problem) {
          var problem = document.createElement("li");
          problem.textContent = data.problem;
          list.append(problem);
        } else if (!data.ports.length) {
          var none = document.createElement("li");
          none.textContent = panel.dataset.noneLabel;
          list.append(none);
        }
        data.ports.forEach(function (port) { list.append(item(port)); });
      })
      .catch(function () {});
  }

  refresh.addEventListener("click", function (event) { event.preventDefault(); load(); });
  document.getElementById("preview-close").addEventListener("click", function () { frame.src = "about:blank"; frameBox.hidden = true; });
  load();
  setInterval(function () { if (document.visibilityState === "visible") load(); }, 15000);
})();
