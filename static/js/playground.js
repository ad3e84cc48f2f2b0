// Playground page: "Start fresh" asks before it wipes (without JavaScript, the server asks on a page of its own).
(function () {
  "use strict";
  document.querySelectorAll("form.fresh-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var button = form.querySelector("[data-confirm]");
      if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); return; }
      var confirm = document.createElement("input");
      confirm.type = "hidden";
      confirm.name = "confirm";
      confirm.value = "yes";
      form.append(confirm);
    });
  });
})();
