// Shows the username format of the typed address's domain while the
// person types (issue 11 point 6). Progressive enhancement only: after a
// failed sign-in the server shows the same, and "did you mean", without
// any script. The formats come from the page (data-formats), so nothing
// is asked of the server and nothing depends on any account.
(function () {
  "use strict";
  var out = document.getElementById("username-live");
  var input = document.getElementById("email");
  if (!out || !input) {
    return;
  }
  var formats;
  try {
    formats = JSON.parse(out.getAttribute("data-formats") || "[]");
  } catch (e) {
    return;
  }
  function update() {
    var v = input.value.trim().toLowerCase();
    var at = v.lastIndexOf("@");
    var text = "";
    if (at > 0) {
      var domain = v.slice(at + 1);
      for (var i = 0; i < formats.length; i++) {
        if (formats[i].d === domain) {
          text = formats[i].t;
          break;
        }
      }
    }
    // Only a change is written: the live region announces each write.
    if (out.textContent !== text) {
      out.textContent = text;
    }
  }
  input.addEventListener("input", update);
  update();
})();
