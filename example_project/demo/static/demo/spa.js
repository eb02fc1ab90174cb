/*
 * The demo's page that renders itself: JSON to a guarded view with fetch; a 403 says how to
 * show the check (reply.captcha), CaptchaLaDjango.render() shows it, and the request is sent
 * again with the pass token. A token is single-use: after a refusal the widget is reset.
 */
(function () {
  "use strict";
  var form = document.getElementById("spa-form");
  var slot = document.getElementById("spa-check");
  var status = document.getElementById("spa-status");
  var retry = document.getElementById("spa-retry");
  var widget = null;
  var waiting = false;  // for a pass token: a second click does not send twice

  function send(token, field) {
    var body = { amount: form.elements.amount.value };
    if (token) { body[field] = token; }
    retry.hidden = true;
    status.textContent = "Sending…";
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": form.elements.csrfmiddlewaretoken.value
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (reply) { answer(response.status, reply); });
    }).catch(function () {
      status.textContent = "The request failed. Please try again.";
      retry.hidden = false;
    });
  }

  function answer(code, reply) {
    if (code === 200) {
      status.textContent = "Transfer of " + reply.amount + " sent (number " + reply.number + ").";
      if (widget) { widget.destroy(); widget = null; }
      slot.textContent = "";
      return;
    }
    status.textContent = reply.detail || "Something went wrong.";
    if (code === 403 && reply.captcha) {
      if (widget) { widget.reset(); } else { widget = window.CaptchaLaDjango.render(slot, reply.captcha); }
      if (!waiting) {
        waiting = true;
        widget.token().then(function (token) {
          waiting = false;
          send(token, reply.token_field);
        }, function () { waiting = false; });
      }
      return;
    }
    retry.hidden = false;  // 429 or 503: Retry-After says when; the button sends again
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!waiting) { send(""); }
  });
  retry.addEventListener("click", function () { send(""); });
})();
