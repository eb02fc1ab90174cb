/*
 * captchala-django boot script: finds every [data-captchala] element, starts the
 * CaptchaLa widget for it, writes the pass token into the hidden input and fires
 * captchala:success / captchala:error DOM events. In "bind" mode it submits the
 * form once the check is passed. Static file, no inline code: works under a strict CSP.
 */
(function () {
  "use strict";
  var REFRESH = ["server_token_expired", "server_token_invalid", "server_token_exhausted",
                 "token_expired", "challenge_expired", "session_expired"];

  function fire(el, name, detail) {
    el.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  }

  function codeOf(message) {
    var match = /\(([^()]+)\)\s*$/.exec(String(message || ""));
    return match ? match[1] : "";
  }

  function csrfToken(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function submitButton(form) {
    return form && form.querySelector("button[type=submit], input[type=submit], button:not([type])");
  }

  function start(el) {
    if (el.getAttribute("data-captchala-ready") || el.hasAttribute("data-captchala-error")) { return; }
    el.setAttribute("data-captchala-ready", "1");
    var form = el.closest("form");
    var input = el.querySelector("input[data-captchala-token]");
    var product = el.getAttribute("data-product") || "bind";
    var theme = el.getAttribute("data-theme") || undefined;
    if (theme && theme.charAt(0) === "{") { try { theme = JSON.parse(theme); } catch (e) { /* keep */ } }
    var instance = null;
    var submitted = false;

    function init(serverToken) {
      if (instance) { instance.destroy(); }
      instance = window.Captchala.init({
        appKey: el.getAttribute("data-app-key"),
        serverToken: serverToken || undefined,
        action: el.getAttribute("data-action") || undefined,
        product: product,
        lang: el.getAttribute("data-lang") || "auto",
        theme: theme
      }).onSuccess(function (res) {
        input.value = res.token;
        fire(el, "captchala:success", { token: res.token });
        if (product === "bind" && form && !submitted) {
          submitted = true;
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        }
      }).onError(function (message) {
        var code = codeOf(message);
        fire(el, "captchala:error", { message: message, code: code });
        if (REFRESH.indexOf(code) >= 0) { refresh(); }
      });
      if (product === "bind" && submitButton(form)) { instance.bindTo(submitButton(form)); }
      else { instance.appendTo(el); }
    }

    function refresh() {
      var url = el.getAttribute("data-refresh-url");
      if (!url) { init(""); return; }
      var body = new URLSearchParams({ action: el.getAttribute("data-action") || "" });
      fetch(url, {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "X-CSRFToken": csrfToken(form) }
      }).then(function (r) { return r.json(); }).then(function (reply) {
        init(reply.server_token || "");
      }, function () { init(""); });
    }

    init(el.getAttribute("data-server-token"));
  }

  function boot() {
    if (typeof window.loadCaptchala !== "function") {
      window.setTimeout(boot, 50);
      return;
    }
    window.loadCaptchala(function () {
      var nodes = document.querySelectorAll("[data-captchala]");
      for (var i = 0; i < nodes.length; i++) { start(nodes[i]); }
    }, function (err) {
      var nodes = document.querySelectorAll("[data-captchala]");
      for (var i = 0; i < nodes.length; i++) { fire(nodes[i], "captchala:error", { message: String(err), code: "load_error" }); }
    });
  }

  if (window.__captchalaBooted) { return; }
  window.__captchalaBooted = true;
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", boot); }
  else { boot(); }
})();
