/*
 * captchala-django boot script. A static file, no inline code: works under a strict CSP.
 *
 * Markup: every [data-captchala] element (the widget's markup) is started once, also when
 * it arrives later (an htmx swap, a page that renders itself): the pass token goes into its
 * hidden input, captchala:success / captchala:error fire on it, and in "bind" mode its form
 * is submitted once the check is passed.
 *
 * The page loads the provider's loader itself (the widget's tags, or {% captchala_scripts %}):
 * nothing a response says makes this script load a script, post to another origin or send a
 * pass token anywhere but back to this site.
 *
 * Consent (CAPTCHALA_CONSENT): the page writes no loader; this script's own tag names it
 * (data-captchala-loader), and no check starts until CaptchaLaDjango.consent() is called (a
 * consent banner), the widget's own "Load the check" button is pressed by the visitor, or a
 * captchala:consent event reaches the document. The loader's URL is read from this script's
 * own tag only (document.currentScript: a tag that ran, so one the page's policy allowed),
 * never from markup elsewhere in the page.
 *
 * Pages that render themselves (window.CaptchaLaDjango):
 *   var widget = CaptchaLaDjango.render(element, reply.captcha);  // a 403's JSON hints
 *   widget.token().then(function (token) { ... });                 // the next pass token
 *   widget.reset();                    // after a refused submit: a token is single-use
 *   widget.destroy();
 *   CaptchaLaDjango.get(elementOrForm) // the widget of some markup, to reset it
 *   CaptchaLaDjango.scan(root)         // start the markup under root (done on DOM changes)
 *
 * htmx: a guarded view of this site stops an htmx request with the HX-Trigger event
 * captchala:required; the check is shown in a dialog and, once passed, the request is sent
 * again to this site, once, with the pass token in the X-CaptchaLa-Token header. A page that
 * handles the event itself calls event.preventDefault() on it.
 */
(function () {
  "use strict";
  // Loaded twice (the widget's tag and {{ form.media }}): the first one serves. An element
  // with id="CaptchaLaDjango" is a window property too: only our own object counts.
  if (window.CaptchaLaDjango && window.CaptchaLaDjango.__captchala === true) { return; }

  var REFRESH = ["server_token_expired", "server_token_invalid", "server_token_exhausted",
                 "token_expired", "challenge_expired", "session_expired"];
  var LOADER_WAIT = 1200;  // x 50 ms: a loader that never arrives is an error after a minute
  var TOKEN_HEADER = "X-CaptchaLa-Token";
  var widgets = [];
  var sdk = { ready: false, error: "", queue: [], started: false };
  var OWN = document.currentScript;
  var OWN_NONCE = (OWN && OWN.nonce) || "";
  // With consent asked for, the loader this script loads once the visitor consents.
  var LOADER = (OWN && OWN.getAttribute("data-captchala-loader")) || "";
  var consented = !LOADER;

  function fire(el, name, detail) {
    el.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  }

  function codeOf(message) {
    var match = /\(([^()]+)\)\s*$/.exec(String(message || ""));
    return match ? match[1] : "";
  }

  /* An option by its JavaScript or its JSON (snake_case) name. */
  function pick(options, camel, snake, fallback) {
    var value = options[camel];
    if (value === undefined || value === null || value === "") { value = options[snake]; }
    return value === undefined || value === null || value === "" ? fallback : value;
  }

  /* Whether url is on this page's origin: where a CSRF token or a pass token may go. */
  function sameOrigin(url) {
    try { return new URL(url, document.baseURI).origin === window.location.origin; } catch (e) { return false; }
  }

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) { return decodeURIComponent(parts[i].slice(eq + 1)); }
    }
    return "";
  }

  function csrfToken(el, given) {
    if (given) { return given; }
    var form = el.closest("form");
    var input = (form || document).querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : cookie("csrftoken");
  }

  function submitButton(form) {
    return form && form.querySelector("button[type=submit], input[type=submit], button:not([type])");
  }

  /* requestSubmit runs the form's submit handlers (htmx, validation); a field named "submit"
     shadows form.submit, so the fallback takes the method from the prototype. */
  function submitForm(form, button) {
    if (form.requestSubmit) {
      if (button && button.form === form) { form.requestSubmit(button); } else { form.requestSubmit(); }
    } else {
      HTMLFormElement.prototype.submit.call(form);
    }
  }

  /* The loader, waited for (its tag is deferred). Never added from a response's URL: that
     would run a script a response chose, under this page's policy. */
  function settle(error) {
    sdk.ready = !error;
    sdk.error = error || "";
    var queue = sdk.queue;
    sdk.queue = [];
    for (var i = 0; i < queue.length; i++) { if (error) { queue[i][1](error); } else { queue[i][0](); } }
  }

  function waitForLoader(tries) {
    if (typeof window.loadCaptchala === "function") {
      window.loadCaptchala(function () { settle(""); }, function (err) { settle(String(err || "load_error")); });
      return;
    }
    if (tries >= LOADER_WAIT) { settle("load_error"); return; }
    window.setTimeout(function () { waitForLoader(tries + 1); }, 50);
  }

  function withSdk(ready, failed) {
    if (sdk.ready) { ready(); return; }
    if (sdk.error) { failed(sdk.error); return; }
    sdk.queue.push([ready, failed]);
    if (consented && !sdk.started) { sdk.started = true; waitForLoader(0); }
  }

  /* The visitor consented: the page's own loader tag comes to life, and the checks start. */
  function consent() {
    if (consented) { return; }
    consented = true;
    var script = document.createElement("script");
    script.src = LOADER;
    if (OWN_NONCE) { script.nonce = OWN_NONCE; }
    document.head.appendChild(script);
    var buttons = document.querySelectorAll("[data-captchala-consent]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].remove(); }
    if (sdk.queue.length && !sdk.started) { sdk.started = true; waitForLoader(0); }
  }

  /* Only the widget's own button, pressed by the visitor (not a script's click). */
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-captchala-consent]");
    if (button && event.isTrusted && button.closest("[data-captchala]")) {
      event.preventDefault();
      consent();
    }
  });
  document.addEventListener("captchala:consent", consent);

  function Widget(el, options, markup) {
    this.element = el;
    this.options = options;
    this.markup = markup;
    this.form = el.closest("form");
    this.input = el.querySelector("input[data-captchala-token]");
    var product = pick(options, "product", "product", "bind");
    // Rendered by a page into an element, "bind" (which takes over a submit button) has no
    // button to take unless the page names one: the check is shown in the element.
    this.product = product === "bind" && !markup && !options.bindTo ? "embed" : product;
    this.instance = null;
    this.held = "";
    this.waiters = [];
    this.submitted = false;
    this.destroyed = false;
  }

  Widget.prototype.bindTarget = function () {
    if (this.product !== "bind") { return null; }
    var given = this.options.bindTo;
    if (given) { return typeof given === "string" ? document.querySelector(given) : given; }
    return this.markup ? submitButton(this.form) : null;
  };

  Widget.prototype.start = function (serverToken) {
    var self = this;
    var o = this.options;
    withSdk(function () {
      if (self.destroyed) { return; }
      if (self.instance) { self.instance.destroy(); }
      var theme = pick(o, "theme", "theme", undefined);
      if (typeof theme === "string" && theme.charAt(0) === "{") {
        try { theme = JSON.parse(theme); } catch (e) { /* a theme name after all */ }
      }
      self.instance = window.Captchala.init({
        appKey: pick(o, "appKey", "app_key", ""),
        serverToken: serverToken || undefined,
        action: pick(o, "action", "action", undefined),
        product: self.product,
        lang: pick(o, "lang", "lang", "auto"),
        theme: theme
      }).onSuccess(function (res) {
        self.succeed(res.token);
      }).onError(function (message) {
        var code = codeOf(message);
        fire(self.element, "captchala:error", { message: message, code: code });
        if (typeof o.onError === "function") { o.onError({ message: message, code: code }); }
        if (REFRESH.indexOf(code) >= 0) { self.refresh(); }
      });
      var button = self.bindTarget();
      if (button) { self.instance.bindTo(button); } else { self.instance.appendTo(self.element); }
      self.element.setAttribute("data-captchala-ready", "1");  // the check can be taken
    }, function (error) {
      fire(self.element, "captchala:error", { message: error, code: "load_error" });
      if (typeof o.onError === "function") { o.onError({ message: error, code: "load_error" }); }
      self.settleWaiters(new Error(error), 1);
    });
  };

  Widget.prototype.settleWaiters = function (value, index) {
    var waiters = this.waiters;
    this.waiters = [];
    for (var i = 0; i < waiters.length; i++) { waiters[i][index](value); }
  };

  Widget.prototype.succeed = function (token) {
    this.held = token;
    if (this.input) { this.input.value = token; }
    fire(this.element, "captchala:success", { token: token });
    if (typeof this.options.onSuccess === "function") { this.options.onSuccess(token); }
    this.settleWaiters(token, 0);
    if (this.markup && this.product === "bind" && this.form && !this.submitted) {
      this.submitted = true;
      submitForm(this.form, this.bindTarget());
    }
  };

  /* A new server token from the refresh URL, then a new check (without one if none comes).
     The request carries the CSRF token: it goes to this site only. */
  Widget.prototype.refresh = function () {
    var self = this;
    var url = pick(this.options, "refreshUrl", "refresh_url", "");
    var action = pick(this.options, "action", "action", "");
    if (!url || !action || !sameOrigin(url)) { this.start(""); return; }
    fetch(url, {
      method: "POST", credentials: "same-origin", body: new URLSearchParams({ action: action }),
      headers: { "X-CSRFToken": csrfToken(this.element, this.options.csrfToken) }
    }).then(function (r) { return r.ok ? r.json() : {}; }).then(function (reply) {
      self.start(reply.server_token || "");
    }, function () { self.start(""); });
  };

  /** The pass token: the one held, or the next one the user earns. */
  Widget.prototype.token = function () {
    var self = this;
    if (this.held) { return Promise.resolve(this.held); }
    return new Promise(function (resolve, reject) { self.waiters.push([resolve, reject]); });
  };

  /** Forget the token (the server spent or refused it) and ask for a new check. */
  Widget.prototype.reset = function () {
    this.held = "";
    this.submitted = false;
    if (this.input) { this.input.value = ""; }
    if (this.instance && typeof this.instance.reset === "function") { this.instance.reset(); }
    return this;
  };

  Widget.prototype.destroy = function () {
    this.destroyed = true;
    if (this.instance) { this.instance.destroy(); }
    this.instance = null;
    var at = widgets.indexOf(this);
    if (at >= 0) { widgets.splice(at, 1); }
    this.settleWaiters(new Error("destroyed"), 1);
  };

  function find(el) {
    for (var i = 0; i < widgets.length; i++) { if (widgets[i].element === el) { return widgets[i]; } }
    return null;
  }

  function startMarkup(el) {
    if (find(el) || el.hasAttribute("data-captchala-error")) { return; }
    var d = el.dataset;
    var widget = new Widget(el, {
      appKey: d.appKey, action: d.action, product: d.product, lang: d.lang, theme: d.theme,
      refreshUrl: d.refreshUrl
    }, true);
    widgets.push(widget);
    widget.start(d.serverToken);
  }

  /** Start every widget's markup under root, and drop those whose markup left the page. */
  function scan(root) {
    root = root || document;
    var nodes = root.querySelectorAll ? Array.prototype.slice.call(root.querySelectorAll("[data-captchala]")) : [];
    if (root.matches && root.matches("[data-captchala]")) { nodes.unshift(root); }
    for (var i = 0; i < nodes.length; i++) { startMarkup(nodes[i]); }
    var gone = widgets.filter(function (w) { return w.markup && !document.documentElement.contains(w.element); });
    for (var j = 0; j < gone.length; j++) { gone[j].destroy(); }
  }

  function render(target, options) {
    var el = typeof target === "string" ? document.querySelector(target) : target;
    if (!el) { throw new Error("CaptchaLaDjango.render: no element " + target); }
    var old = find(el);
    if (old) { old.destroy(); }
    var widget = new Widget(el, options || {}, false);
    widgets.push(widget);
    var serverToken = pick(widget.options, "serverToken", "server_token", "");
    if (serverToken) { widget.start(serverToken); } else { widget.refresh(); }
    return widget;
  }

  function get(target) {
    var el = typeof target === "string" ? document.querySelector(target) : target;
    if (!el) { return null; }
    for (var i = 0; i < widgets.length; i++) {
      var w = widgets[i].element;
      if (w === el || w.contains(el) || (el.tagName === "FORM" && el.contains(w))) { return widgets[i]; }
    }
    return null;
  }

  /* htmx: the check, or the try-again message, in a dialog of this script. */
  function dialog(reply, buttons) {
    var box = document.createElement("dialog");
    box.className = "captchala-dialog";
    // Styled through the CSSOM, which a strict style-src allows (a style attribute it does not).
    var s = box.style;
    s.position = "fixed"; s.top = "15vh"; s.maxWidth = "min(28rem, 92vw)"; s.padding = "1.25rem";
    s.border = "1px solid GrayText"; s.borderRadius = "8px"; s.zIndex = "2147483000";
    s.background = "Canvas"; s.color = "CanvasText"; s.boxShadow = "0 10px 30px rgba(0,0,0,0.3)";
    var text = document.createElement("p");
    text.id = "captchala-dialog-" + Math.random().toString(36).slice(2);
    text.textContent = reply.detail || "";
    box.setAttribute("aria-labelledby", text.id);
    var slot = document.createElement("div");
    slot.className = "captchala-slot";
    slot.style.margin = "0.75rem 0";
    box.appendChild(text);
    box.appendChild(slot);
    var labels = reply.labels || {};
    var row = document.createElement("p");
    row.style.display = "flex"; row.style.gap = "0.5rem"; row.style.margin = "0";
    (buttons || []).concat([["close", function () { box.close(); }]]).forEach(function (pair) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = labels[pair[0]] || pair[0];
      button.setAttribute("data-captchala-dialog", pair[0]);
      button.addEventListener("click", pair[1]);
      row.appendChild(button);
    });
    box.appendChild(row);
    box.addEventListener("close", function () {
      var widget = find(slot);
      if (widget) { widget.destroy(); }
      if (box.parentNode) { box.parentNode.removeChild(box); }
    });
    document.body.appendChild(box);
    // Not modal: a loader that opens its own panel on the page must not be made inert.
    box.show();
    box.focus();
    return { box: box, slot: slot };
  }

  /* The stopped request, sent again: to this site only (a pass token never leaves it). */
  function resend(config, target, headers) {
    window.htmx.ajax(config.verb || "post", config.path, {
      source: config.elt, target: target, headers: headers || {}
    });
  }

  function triggered(xhr, name) {
    try {
      var all = JSON.parse(xhr.getResponseHeader("HX-Trigger") || "{}");
      return all && typeof all === "object" ? all[name] || null : null;
    } catch (e) {
      return null;
    }
  }

  var handledByPage = false;
  ["captchala:required", "captchala:unavailable", "captchala:limited"].forEach(function (name) {
    document.addEventListener(name, function (event) { handledByPage = event.defaultPrevented; });
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var d = event.detail || {};
    var xhr = d.xhr;
    var config = d.requestConfig || {};
    // Only this site's answers, to this site's requests, are acted on: another origin's
    // 403 must not show this site's check and collect its pass token.
    if (!xhr || !window.htmx || !sameOrigin(xhr.responseURL || "") || !sameOrigin(config.path || "")) {
      handledByPage = false;
      return;
    }
    var required = triggered(xhr, "captchala:required");
    var unavailable = triggered(xhr, "captchala:unavailable");
    var limited = triggered(xhr, "captchala:limited");
    var reply = required || unavailable || limited;
    if (!reply || handledByPage) { handledByPage = false; return; }
    d.shouldSwap = false;
    d.isError = false;
    var target = d.target;
    if (required) {
      var shown = dialog(reply, []);
      var widget = render(shown.slot, reply.captcha || {});
      widget.token().then(function (token) {
        var headers = {};
        headers[TOKEN_HEADER] = token;
        shown.box.close();
        resend(config, target, headers);
      }, function () { /* closed without a pass: nothing is sent */ });
    } else if (unavailable) {
      var later = dialog(reply, [["retry", function () { later.box.close(); resend(config, target); }]]);
    } else {
      dialog(reply, []);
    }
  });

  window.CaptchaLaDjango = {
    render: render, get: get, scan: scan, consent: consent,
    consented: function () { return consented; },
    __captchala: true
  };

  function boot() {
    scan(document);
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        if (records[i].addedNodes.length || records[i].removedNodes.length) { scan(document); return; }
      }
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", boot); }
  else { boot(); }
})();
