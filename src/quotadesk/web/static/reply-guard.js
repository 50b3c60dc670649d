// The reply guard as the engineer types: asks the desk's own guard (POST /api/v1/safety/check)
// and says, sentence by sentence, what it would refuse and why. The server refuses an unsafe
// reply anyway; this only says so before the engineer presses Send.
(function () {
  "use strict";
  var box = document.getElementById("reply-text");
  var out = document.getElementById("guard");
  if (!box || !out) { return; }
  var timer = null;
  var asked = 0;

  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function show(result) {
    out.textContent = "";
    out.setAttribute("data-safe", result.safe ? "true" : "false");
    var head = document.createElement("p");
    head.textContent = result.safe
      ? "The guard has no objection: this reply can be sent."
      : "The guard would refuse this reply:";
    out.appendChild(head);
    if (!result.safe) {
      var list = document.createElement("ul");
      result.objections.forEach(function (o) {
        var item = document.createElement("li");
        var rule = document.createElement("strong");
        rule.textContent = o.rule.replace(/_/g, " ");
        item.appendChild(rule);
        item.appendChild(document.createTextNode(": " + o.why + (o.sentence ? " — “" + o.sentence + "”" : "")));
        list.appendChild(item);
      });
      out.appendChild(list);
    }
  }

  function check() {
    var mine = ++asked;
    var text = box.value;
    if (!text.trim()) {
      out.setAttribute("data-safe", "unknown");
      out.textContent = "Write a reply for the guard to check.";
      return;
    }
    fetch("/api/v1/safety/check", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": cookie("qd_csrf") },
      body: JSON.stringify({ text: text, key_exposed: box.getAttribute("data-key-exposed") === "true" })
    }).then(function (response) {
      if (!response.ok) { throw new Error("the guard answered " + response.status); }
      return response.json();
    }).then(function (result) {
      if (mine === asked) { show(result); }
    }).catch(function (err) {
      if (mine === asked) {
        out.setAttribute("data-safe", "unknown");
        out.textContent = "The guard could not be asked (" + err.message + "); it still checks the reply when you send it.";
      }
    });
  }

  box.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(check, 250);
  });
  check();
})();
