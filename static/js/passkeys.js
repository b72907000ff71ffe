// Passkeys for staff sign-in (WebAuthn). A form marked data-passkey="register" or
// "sign-in" asks the server for options (data-options, a POST with the form's CSRF token),
// lets the browser create or use a passkey, puts the browser's answer into the form's
// credential field as JSON and submits the form; the server checks it.
(function () {
  "use strict";
  if (!window.PublicKeyCredential) {
    document.querySelectorAll("[data-passkey]").forEach(function (form) {
      show(form, "This browser cannot use passkeys. Use an authenticator app instead.");
      form.querySelector("button").disabled = true;
    });
    return;
  }

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); }).buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function show(form, message) {
    var problem = form.querySelector("[data-passkey-problem]");
    problem.textContent = message;
    problem.hidden = false;
  }

  function answer(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      if (response.userHandle) { json.response.userHandle = toText(response.userHandle); }
    }
    return JSON.stringify(json);
  }

  function ask(form, options) {
    options.challenge = toBytes(options.challenge);
    if (form.dataset.passkey === "register") {
      options.user.id = toBytes(options.user.id);
      (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
      return navigator.credentials.create({ publicKey: options });
    }
    (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return navigator.credentials.get({ publicKey: options });
  }

  document.querySelectorAll("[data-passkey]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var field = form.querySelector("input[name=credential]");
      if (field.value) { return; }
      event.preventDefault();
      var token = form.querySelector("input[name=csrf_token]").value;
      fetch(form.dataset.options, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "csrf_token=" + encodeURIComponent(token),
        credentials: "same-origin"
      }).then(function (response) {
        if (!response.ok) { throw new Error("options " + response.status); }
        return response.json();
      }).then(function (options) {
        return ask(form, options);
      }).then(function (credential) {
        field.value = answer(credential);
        form.submit();
      }).catch(function () {
        show(form, "The passkey was not used: it was cancelled, timed out or is not known here. Try again, or use another way.");
      });
    });
  });
})();
