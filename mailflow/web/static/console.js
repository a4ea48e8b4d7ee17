// Live preview for the template editor: optional; the Preview button works without it.
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  if (!form || !window.fetch) { return; }
  var timer = null;
  function refresh() {
    var data = new FormData(form);
    data.set("preview", "1");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin",
                         headers: { "X-Mailflow-Fragment": "preview" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var old = document.getElementById("preview");
        var box = document.createElement("div");
        box.innerHTML = html;
        var fresh = box.querySelector("#preview");
        if (old && fresh) { old.replaceWith(fresh); }
      })
      .catch(function () {});
  }
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 400); }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
