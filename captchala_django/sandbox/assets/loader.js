/*
 * CaptchaLa sandbox loader: the same surface as the real loader
 * (window.loadCaptchala, Captchala.init(...).onSuccess(...).bindTo/appendTo),
 * with a plain "I am human" check that asks the local sandbox for a pass token.
 * Development and tests only.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var src = (script && script.src) || "";
  var base = src.replace(/\/(captchala-)?loader\.js(\?.*)?$/, "");

  function resolve(target) {
    if (typeof target === "string") { return document.querySelector(target); }
    return target || null;
  }

  function style(el, props) {
    for (var key in props) { if (Object.prototype.hasOwnProperty.call(props, key)) { el.style[key] = props[key]; } }
    return el;
  }

  function Instance(options) {
    this.options = options || {};
    this.handlers = { success: [], error: [], ready: [], close: [] };
    this.box = null;
    this.overlay = null;
    this.bound = null;
    this.boundListener = null;
    this.solved = false;
  }

  Instance.prototype._on = function (kind, fn) {
    if (typeof fn === "function") { this.handlers[kind].push(fn); }
    return this;
  };
  Instance.prototype.onSuccess = function (fn) { return this._on("success", fn); };
  Instance.prototype.onError = function (fn) { return this._on("error", fn); };
  Instance.prototype.onReady = function (fn) { return this._on("ready", fn); };
  Instance.prototype.onClose = function (fn) { return this._on("close", fn); };
  Instance.prototype._emit = function (kind, value) {
    var list = this.handlers[kind];
    for (var i = 0; i < list.length; i++) { list[i](value); }
  };

  Instance.prototype._render = function () {
    var self = this;
    var box = style(document.createElement("div"), {
      display: "inline-flex", alignItems: "center", gap: "0.6em", padding: "0.7em 1em",
      border: "1px solid #c7ccd1", borderRadius: "6px", background: "#f9fafb",
      fontFamily: "system-ui, sans-serif", fontSize: "15px", color: "#1f2933"
    });
    box.className = "captchala-sandbox-box";
    box.setAttribute("data-captchala-sandbox", "");
    var label = document.createElement("label");
    style(label, { display: "inline-flex", alignItems: "center", gap: "0.5em", cursor: "pointer" });
    var check = document.createElement("input");
    check.type = "checkbox";
    check.className = "captchala-sandbox-check";
    check.setAttribute("aria-label", "I am human");
    label.appendChild(check);
    label.appendChild(document.createTextNode("I am human"));
    var note = style(document.createElement("small"), { color: "#6b7280" });
    note.className = "captchala-sandbox-status";
    note.textContent = "CaptchaLa sandbox";
    box.appendChild(label);
    box.appendChild(note);
    check.addEventListener("change", function () {
      if (check.checked) { self._solve(check, note); }
    });
    this.box = box;
    return box;
  };

  Instance.prototype._solve = function (check, note) {
    var self = this;
    check.disabled = true;
    note.textContent = "Checking…";
    var body = JSON.stringify({
      appKey: this.options.appKey || "",
      serverToken: this.options.serverToken || "",
      action: this.options.action || ""
    });
    fetch(base + "/sandbox/solve", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: body
    }).then(function (r) { return r.json(); }).then(function (reply) {
      if (reply && reply.code === 0 && reply.data && reply.data.token) {
        self.solved = true;
        note.textContent = "Verified";
        note.style.color = "#047857";
        self._closeOverlay(false);
        self._emit("success", { token: reply.data.token, action: reply.data.action });
      } else {
        var code = (reply && reply.data && reply.data.error) || (reply && reply.msg) || "error";
        check.checked = false;
        check.disabled = false;
        note.textContent = "Failed: " + code;
        self._emit("error", "Sandbox check failed (" + code + ")");
      }
    }, function () {
      check.checked = false;
      check.disabled = false;
      note.textContent = "Sandbox unreachable";
      self._emit("error", "Sandbox unreachable (network_error)");
    });
  };

  Instance.prototype.appendTo = function (target) {
    var el = resolve(target);
    if (!el) { this._emit("error", "Element not found (element_not_found)"); return this; }
    el.appendChild(this.box || this._render());
    this._emit("ready");
    return this;
  };

  Instance.prototype.bindTo = function (target) {
    var self = this;
    var el = resolve(target);
    if (!el) { this._emit("error", "Element not found (element_not_found)"); return this; }
    this.bound = el;
    this.boundListener = function (event) {
      if (self.solved) { return; }
      event.preventDefault();
      event.stopImmediatePropagation();
      self.showCaptcha();
    };
    el.addEventListener("click", this.boundListener, true);
    this._emit("ready");
    return this;
  };

  Instance.prototype.showCaptcha = function () {
    if (this.overlay) { return this; }
    var self = this;
    var overlay = style(document.createElement("div"), {
      position: "fixed", inset: "0", background: "rgba(17,24,39,0.45)", display: "flex",
      alignItems: "center", justifyContent: "center", zIndex: "2147483000"
    });
    overlay.className = "captchala-sandbox-overlay";
    var panel = style(document.createElement("div"), {
      background: "#fff", padding: "1.2em", borderRadius: "8px",
      boxShadow: "0 10px 30px rgba(0,0,0,0.25)"
    });
    panel.appendChild(this.box || this._render());
    overlay.appendChild(panel);
    overlay.addEventListener("click", function (event) {
      if (event.target === overlay) { self._closeOverlay(true); }
    });
    document.body.appendChild(overlay);
    this.overlay = overlay;
    return this;
  };

  Instance.prototype._closeOverlay = function (byUser) {
    if (!this.overlay) { return; }
    this.overlay.parentNode.removeChild(this.overlay);
    this.overlay = null;
    this.box = null;
    if (byUser) { this._emit("close"); }
  };

  Instance.prototype.verify = function () { return this.showCaptcha(); };

  Instance.prototype.reset = function () {
    this.solved = false;
    if (this.box) {
      var check = this.box.querySelector(".captchala-sandbox-check");
      var note = this.box.querySelector(".captchala-sandbox-status");
      if (check) { check.checked = false; check.disabled = false; }
      if (note) { note.textContent = "CaptchaLa sandbox"; note.style.color = "#6b7280"; }
    }
    return this;
  };

  Instance.prototype.destroy = function () {
    this._closeOverlay(false);
    if (this.box && this.box.parentNode) { this.box.parentNode.removeChild(this.box); }
    if (this.bound && this.boundListener) {
      this.bound.removeEventListener("click", this.boundListener, true);
    }
    this.box = null;
    this.bound = null;
    return this;
  };

  var Captchala = {
    sandbox: true,
    init: function (options) { return new Instance(options); }
  };

  window.loadCaptchala = function (onReady, onLoadError) {
    try {
      window.Captchala = Captchala;
      if (typeof onReady === "function") { setTimeout(function () { onReady(Captchala); }, 0); }
    } catch (err) {
      if (typeof onLoadError === "function") { onLoadError(err); }
    }
  };
})();
