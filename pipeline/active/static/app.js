// tsunagu annotation page. Every text from the corpus goes in as textContent, never as HTML.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="tsunagu-csrf"]').content;
  const mode = document.body.dataset.mode;        // "annotate" or "review"
  const role = mode === "review" ? "reviewer" : "annotator";
  const KEYS = "123456789";
  const $ = (id) => document.getElementById(id);
  let view = null;       // the server's last answer
  let busy = false;      // one request at a time: a key pressed meanwhile is not sent twice

  function tabId() {
    // One id per browser tab, kept across reloads (sessionStorage is per tab).
    let id = sessionStorage.getItem("tsunagu-tab");
    if (!id) {
      id = Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
      sessionStorage.setItem("tsunagu-tab", id);
    }
    return id;
  }
  const tab = tabId();

  function whoAmI() {
    const params = new URLSearchParams(location.search);
    let name = params.get(role) || params.get("annotator");
    if (name) {
      localStorage.setItem("tsunagu-" + role, name);
      return name;
    }
    name = localStorage.getItem("tsunagu-" + role);
    if (name) {
      params.set(role, name);
      history.replaceState(null, "", "?" + params.toString());
    }
    return name;
  }

  function say(text, error) {
    const status = $("status");
    status.textContent = text || "";
    status.classList.toggle("error", !!error);
  }

  async function call(path, payload) {
    const options = payload === undefined
      ? { method: "GET", credentials: "same-origin" }
      : { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify(payload) };
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const message = (data && data.error) || ("the server answered " + response.status);
      throw new Error(message);
    }
    return data;
  }

  function buildButtons(labels) {
    const box = $("buttons");
    box.replaceChildren();
    labels.forEach((label, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "label";
      b.dataset.label = label;
      const k = document.createElement("kbd");
      k.textContent = KEYS[i];
      b.append(k, document.createTextNode(label));
      b.addEventListener("click", () => send(label));
      box.append(b);
    });
    for (const [key, text, action] of [["s", "skip", () => send(null)], ["u", "undo", undo]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.id = "btn-" + text;
      const k = document.createElement("kbd");
      k.textContent = key;
      b.append(k, document.createTextNode(text));
      b.addEventListener("click", action);
      box.append(b);
    }
    $("help").textContent = "keys: 1-" + labels.length + " " + (mode === "review" ? "final label" : "label")
      + " · s skip · u undo";
  }

  function render(data) {
    const first = view === null;
    view = data;
    if (first) buildButtons(data.labels);
    $("mode").textContent = mode === "review" ? "review of disagreements" : "overlap " + data.overlap;
    $("who").textContent = role + ": " + data.annotator;
    const p = data.progress;
    $("progress").textContent = mode === "review"
      ? p.reviewed + " of " + p.disagreements + " disagreements reviewed"
      : p.yours + " answered by you · " + p.complete + " of " + p.examples + " examples done · "
        + p.left_for_you + " left for you · labels: "
        + Object.entries(p.counts).map(([label, n]) => label + " " + n).join(", ");
    const m = data.model;
    $("model").textContent = !m ? "" : (m.trained_on ? "model trained on " + m.trained_on + " labels" : "no model yet")
      + (m.retraining ? " (retraining…)" : "") + (m.error ? " · retraining failed: " + m.error : "");
    const ex = data.example;
    document.body.dataset.exampleId = ex ? ex.id : "";
    $("card").hidden = !ex;
    $("done").hidden = !!ex;
    if (!ex) {
      $("done").textContent = mode === "review" ? "Every disagreement is reviewed." :
        "Nothing left for you: every example is labelled or answered by you. Thank you!";
      return;
    }
    $("example-id").textContent = ex.id;
    $("text").textContent = ex.text;
    const pred = ex.prediction;
    $("prediction").textContent = pred ? "model: " + pred.label + " (" + pred.confidence.toFixed(2) + ")" : "";
    for (const b of document.querySelectorAll("button.label")) {
      b.classList.toggle("predicted", !!pred && b.dataset.label === pred.label);
    }
    const list = $("answers");
    list.replaceChildren();
    list.hidden = !ex.answers;
    if (ex.answers) {
      for (const [name, label] of Object.entries(ex.answers)) {
        const li = document.createElement("li");
        li.textContent = name + ": " + label;
        list.append(li);
      }
    }
  }

  async function load() {
    busy = true;
    try {
      render(await call("api/next?" + new URLSearchParams({ annotator: me, tab: tab })));
      say("");
    } catch (e) {
      say("could not load the next example: " + e.message, true);
    } finally {
      busy = false;
    }
  }

  async function send(label) {
    if (busy || !view || !view.example) return;
    busy = true;
    const id = view.example.id;
    const payload = { annotator: me, tab: tab, example_id: id };
    if (label === null) payload.skip = true; else payload.label = label;
    try {
      const data = await call("api/answer", payload);
      render(data);
      say(data.status === "saved" ? (label === null ? "skipped " + id : "saved " + id + " = " + label)
        : data.status + ": " + id);
    } catch (e) {
      say("not saved: " + e.message + " (the same example again)", true);
    } finally {
      busy = false;
    }
  }

  async function undo() {
    if (busy) return;
    busy = true;
    try {
      const data = await call("api/undo", { annotator: me, tab: tab });
      render(data);
      say(data.undone ? "undone: " + data.undone.example_id : "nothing to undo");
    } catch (e) {
      say("not undone: " + e.message, true);
    } finally {
      busy = false;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || event.ctrlKey || event.metaKey || event.altKey || !view) return;
    const key = event.key.toLowerCase();
    const i = KEYS.indexOf(key);
    if (i >= 0 && i < view.labels.length) { event.preventDefault(); send(view.labels[i]); }
    else if (key === "s") { event.preventDefault(); send(null); }
    else if (key === "u") { event.preventDefault(); undo(); }
  });

  let me = whoAmI();
  if (me) {
    load();
  } else {
    const form = $("name-form");
    form.hidden = false;
    $("name-input").focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      me = $("name-input").value.trim();
      if (!me) return;
      localStorage.setItem("tsunagu-" + role, me);
      const params = new URLSearchParams(location.search);
      params.set(role, me);
      history.replaceState(null, "", "?" + params.toString());
      form.hidden = true;
      load();
    });
  }
})();
