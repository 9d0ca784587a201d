// portti: passkeys (WebAuthn). Loaded only by the pages that use them.
//
// A form with data-passkey="get" or "create" holds everything:
//   data-options-url   where to POST the form for sign-in options (get), or
//   data-options       the registration options as JSON (create);
//   a hidden field named "response" that receives the credential's JSON;
//   [data-passkey-start] the button (hidden until this script runs);
//   [data-passkey-status] a live region for progress and errors;
//   [data-passkey-unsupported] shown when the browser has no WebAuthn.
// Messages come from the page (data-msg-*), in the person's language.
// Binary fields travel as base64url, as the server's library expects.
(function () {
  "use strict";

  function toB64url(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromB64url(str) {
    var s = str.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function decodeList(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: fromB64url(c.id) };
      if (c.transports) d.transports = c.transports;
      return d;
    });
  }

  // requestOptions and creationOptions turn the server's JSON into what
  // navigator.credentials wants.
  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    if (pk.allowCredentials) pk.allowCredentials = decodeList(pk.allowCredentials);
    return { publicKey: pk };
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    pk.user.id = fromB64url(pk.user.id);
    if (pk.excludeCredentials) pk.excludeCredentials = decodeList(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function credentialJSON(cred) {
    var r = cred.response, out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
    }
    return JSON.stringify(out);
  }

  function setup(form) {
    var mode = form.getAttribute("data-passkey");
    var button = form.querySelector("[data-passkey-start]");
    var status = form.querySelector("[data-passkey-status]");
    var unsupported = form.querySelector("[data-passkey-unsupported]");
    var field = form.querySelector("input[name=response]");
    if (!button || !status || !field) return;
    if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
      if (unsupported) unsupported.hidden = false;
      return;
    }
    var busy = false;
    function say(key, isError) {
      status.textContent = form.getAttribute("data-msg-" + key) || key;
      status.className = isError ? "error" : "small";
    }
    function done(err) {
      busy = false;
      button.disabled = false;
      if (err && err.name === "NotAllowedError") say("cancelled", true);
      else if (err && err.name === "InvalidStateError") say("exists", true);
      else if (err && err.serverMessage) {
        status.textContent = err.serverMessage;
        status.className = "error";
      } else say("failed", true);
      button.focus();
    }
    function options() {
      if (mode === "create") {
        return Promise.resolve(creationOptions(JSON.parse(form.getAttribute("data-options"))));
      }
      var body = new URLSearchParams(new FormData(form));
      body.delete("response");
      return fetch(form.getAttribute("data-options-url"), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (res) {
        return res.json().then(function (o) {
          if (!res.ok || o.error) {
            var e = new Error("options");
            e.serverMessage = o.error;
            throw e;
          }
          return requestOptions(o);
        });
      });
    }
    function start() {
      if (busy) return;
      busy = true;
      button.disabled = true;
      say("wait", false);
      options().then(function (o) {
        return mode === "create" ? navigator.credentials.create(o) : navigator.credentials.get(o);
      }).then(function (cred) {
        if (!cred) throw new Error("no credential");
        field.value = credentialJSON(cred);
        var remember = document.getElementById("remember_me");
        var keep = form.querySelector("input[name=remember_me]");
        if (remember && keep && remember.checked) keep.value = "yes";
        say("sending", false);
        form.submit();
      }).catch(done);
    }
    button.hidden = false;
    button.addEventListener("click", start);
    form.addEventListener("submit", function (ev) {
      // Enter in the name field starts the ceremony; the form is sent
      // once the authenticator has answered.
      if (!field.value) {
        ev.preventDefault();
        start();
      }
    });
  }

  var forms = document.querySelectorAll("form[data-passkey]");
  for (var i = 0; i < forms.length; i++) setup(forms[i]);
})();
