// ferry's web app: what the pages do better with JavaScript. Every action
// also works without it (the forms post to the server).
"use strict";

(function () {
  const PARALLEL = 3;     // files uploaded at once
  const RETRIES = 30;     // tries of one request after a network error, 2 s apart
  // The request sizes tried, largest first, after something in front of
  // ferry answers 413 to a larger one.
  const FALLBACKS = [64 << 20, 16 << 20, 4 << 20, 1 << 20];

  // The page knows JavaScript runs: app.css styles the file pickers as
  // buttons only then.
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".js-only").forEach((el) => { el.hidden = false; });
    document.querySelectorAll(".no-js").forEach((el) => { el.hidden = true; });
    document.querySelectorAll("[data-copy]").forEach((button) => {
      button.addEventListener("click", () => copyField(button));
    });
    const form = document.getElementById("upload-form");
    if (form) setUpUploads(form);
    const send = document.getElementById("new-send");
    if (send) setUpNewSend(send);
    const deliver = document.getElementById("deliver");
    if (deliver) setUpDeliver(deliver);
    const suggest = document.getElementById("suggest");
    if (suggest) setUpSuggestions(suggest, document.getElementById("to"));
    const addKey = document.getElementById("passkey-add");
    if (addKey) setUpPasskeyAdd(addKey);
    const keySignIn = document.getElementById("passkey-signin");
    if (keySignIn) setUpPasskeySignIn(keySignIn);
    const photo = document.getElementById("photo");
    if (photo) {
      // A preview of the chosen photo before it is uploaded.
      photo.addEventListener("change", () => {
        const img = document.getElementById("photo-preview");
        if (!photo.files[0]) return;
        img.src = URL.createObjectURL(photo.files[0]);
        img.alt = "The photo you chose";
        img.hidden = false;
      });
    }
  });

  function copyField(button) {
    const field = document.getElementById(button.dataset.copy);
    field.select();
    const done = () => { button.textContent = "Copied"; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, () => { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  }

  // setUpSuggestions shows the contacts (photo, name, email) that match
  // what is typed in the receiver's field; choosing one fills it in.
  function setUpSuggestions(list, field) {
    field.removeAttribute("list"); // these suggestions replace the browser's own
    list.hidden = false;
    const items = Array.from(list.querySelectorAll("li"));
    const filter = () => {
      const q = field.value.trim().toLowerCase();
      let shown = 0;
      for (const li of items) {
        const match = shown < 8 && (q === "" || li.textContent.toLowerCase().includes(q)) &&
          li.querySelector("button").dataset.email !== field.value.trim();
        li.hidden = !match;
        if (match) shown++;
      }
      list.hidden = shown === 0;
    };
    for (const li of items) {
      li.querySelector("button").addEventListener("click", (e) => {
        field.value = e.currentTarget.dataset.email;
        filter();
        field.focus();
      });
    }
    field.addEventListener("input", filter);
    filter();
  }

  // ---- uploads ----

  let queue = [];
  let running = 0;
  const failed = new Set(); // the paths whose last upload failed
  let folder = "";
  let done = [];                 // the uploads finished, with the server's answers
  let onIdle = refreshListing;   // what to do when every upload has ended
  // requestMax is the most one request may carry (0: no limit): the
  // server's web.upload_request_max, or what a 413 from a proxy taught.
  let requestMax = 0;
  let uploadOne = upload; // how one file goes up: the resumable calls, or a delivery's PUT
  let holding = false;    // chosen files wait for a start (a file request's page)

  function setUpUploads(form) {
    folder = form.dataset.folder || "";
    requestMax = Number(form.dataset.requestMax) || 0;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      addFiles(Array.from(document.getElementById("files").files).map((f) => ({ file: f, rel: f.name })));
    });
    wirePickers();
  }

  // setUpNewSend makes the New send page upload each file as soon as it is
  // chosen (into the page's folder of Sent) and, on Send, send them all
  // once the last upload has ended.
  function setUpNewSend(form) {
    folder = form.dataset.folder;
    requestMax = Number(form.dataset.requestMax) || 0;
    wirePickers();
    let wanted = false;
    const fail = (text) => {
      const p = document.getElementById("send-error");
      p.textContent = text;
      p.hidden = false;
      wanted = false;
      document.getElementById("send-button").disabled = false;
    };
    onIdle = () => {
      if (!wanted) return;
      if (failed.size > 0) {
        fail("Not sent: " + failed.size + (failed.size === 1 ? " file" : " files") + " did not upload (see below). " +
          "What did upload is in your folder, in " + folder + ": send it from there, or choose the failed files again.");
        return;
      }
      if (done.length === 0) { fail("Choose the files to send."); return; }
      // One item per top-level name, as the folder page's Send does.
      const names = new Set(done.map((answer) => answer.file.slice(folder.length + 1).split("/")[0]));
      const post = document.createElement("form");
      post.method = "post";
      post.action = "/send/" + folder.split("/").map(encodeURIComponent).join("/");
      const field = (name, value) => {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        post.append(input);
      };
      field("to", document.getElementById("to").value);
      field("bare", "1"); // each goes by its name, not its path in Sent
      names.forEach((name) => field("item", name));
      document.body.append(post);
      post.submit();
    };
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (done.length === 0 && queue.length === 0 && running === 0) { fail("Choose the files to send."); return; }
      wanted = true;
      document.getElementById("send-error").hidden = true;
      document.getElementById("send-button").disabled = true;
      if (queue.length === 0 && running === 0) onIdle();
    });
  }

  // wirePickers uploads what the file and folder pickers choose and what is
  // dropped on the page.
  function wirePickers() {
    document.getElementById("files").addEventListener("change", (e) => {
      addFiles(Array.from(e.target.files).map((f) => ({ file: f, rel: f.name })));
      e.target.value = "";
    });
    document.getElementById("folder-input").addEventListener("change", (e) => {
      addFiles(Array.from(e.target.files).map((f) => ({ file: f, rel: f.webkitRelativePath || f.name })));
      e.target.value = "";
    });
    const drop = document.getElementById("drop");
    const over = (e) => { e.preventDefault(); drop.classList.add("over"); };
    document.addEventListener("dragover", over);
    document.addEventListener("dragenter", over);
    document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) drop.classList.remove("over"); });
    document.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      const items = Array.from(e.dataTransfer.items || []);
      const entries = items.map((it) => it.webkitGetAsEntry && it.webkitGetAsEntry()).filter(Boolean);
      if (entries.length === 0) {
        addFiles(Array.from(e.dataTransfer.files).map((f) => ({ file: f, rel: f.name })));
        return;
      }
      Promise.all(entries.map((en) => walkEntry(en, ""))).then((lists) => addFiles(lists.flat()));
    });
  }

  // walkEntry lists the files of a dropped file or folder, with their
  // paths relative to the drop.
  function walkEntry(entry, prefix) {
    const rel = prefix + entry.name;
    if (entry.isFile) {
      return new Promise((resolve) => entry.file((f) => resolve([{ file: f, rel: rel }]), () => resolve([])));
    }
    return new Promise((resolve) => {
      const reader = entry.createReader();
      const all = [];
      const next = () => reader.readEntries((batch) => {
        if (batch.length === 0) {
          Promise.all(all.map((en) => walkEntry(en, rel + "/"))).then((lists) => resolve(lists.flat()));
          return;
        }
        all.push(...batch);
        next();
      }, () => resolve([]));
      next();
    });
  }

  function addFiles(list) {
    for (const item of list) {
      item.path = (folder ? folder + "/" : "") + item.rel;
      item.view = showUpload(item);
      queue.push(item);
    }
    if (!holding) pump();
  }

  function pump() {
    while (running < PARALLEL && queue.length > 0) {
      const item = queue.shift();
      running++;
      uploadOne(item).then((answer) => {
        done.push(answer);
        failed.delete(item.path);
        item.view.li.className = "done";
        item.view.stat.textContent = "Uploaded " + size(item.file.size) +
          (item.resumedAt > 0 ? " (resumed from " + size(item.resumedAt) + ")" : "");
      }, (err) => {
        if (item.cancelled) {
          item.view.stat.textContent = "Cancelled";
        } else {
          failed.add(item.path);
          item.view.li.className = "failed";
          item.view.stat.textContent = err.message;
          item.view.stat.setAttribute("role", "alert");
        }
      }).finally(() => {
        item.view.cancel.hidden = true;
        running--;
        pump();
        if (running === 0 && queue.length === 0) onIdle();
      });
    }
  }

  function showUpload(item) {
    const li = document.createElement("li");
    const head = document.createElement("div");
    head.className = "head";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = item.rel;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "plain";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", "Cancel the upload of " + item.rel);
    cancel.addEventListener("click", () => {
      item.cancelled = true;
      if (item.xhr) item.xhr.abort();
    });
    head.append(name, cancel);
    const bar = document.createElement("progress");
    bar.max = Math.max(item.file.size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", "Progress of " + item.rel);
    const stat = document.createElement("div");
    stat.className = "stat";
    stat.textContent = "Waiting";
    li.append(head, bar, stat);
    document.getElementById("uploads").append(li);
    return { li: li, bar: bar, stat: stat, cancel: cancel };
  }

  // setUpDeliver makes a file request's page send what is chosen, once
  // the person presses Send: it starts a delivery, puts each file with
  // progress (the File itself as the body, as the folder page does), then
  // finishes it and shows the receipt, each file with its SHA-256.
  function setUpDeliver(form) {
    const token = form.dataset.token;
    const password = form.dataset.password;
    const base = "/api/1/r/" + encodeURIComponent(token);
    const auth = password ? { Authorization: "Basic " + btoa(unescape(encodeURIComponent("outsider:" + password))) } : {};
    let delivery = "";
    holding = true;
    wirePickers();
    const button = document.getElementById("deliver-button");
    const fail = (text) => {
      const p = document.getElementById("deliver-error");
      p.textContent = text;
      p.hidden = false;
      button.disabled = false;
      holding = true;
    };
    const api = async (method, url, body) => {
      let res;
      try {
        res = await fetch(url, { method: method, body: body, headers: auth, credentials: "omit" });
      } catch (e) {
        throw new Error("The connection was lost; try again.");
      }
      const data = parse(await res.text());
      if (!res.ok) throw new Error(message(data, res.status));
      return data;
    };
    uploadOne = (item) => new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      item.xhr = xhr;
      const t0 = performance.now();
      xhr.open("PUT", base + "/" + encodeURIComponent(delivery) + "?name=" + encodeURIComponent(item.rel));
      if (auth.Authorization) xhr.setRequestHeader("Authorization", auth.Authorization);
      xhr.upload.onprogress = (e) => {
        item.view.bar.value = e.loaded;
        const secs = (performance.now() - t0) / 1000;
        let text = size(e.loaded) + " of " + size(item.file.size);
        if (secs > 0.2 && e.loaded > 0) {
          const speed = e.loaded / secs;
          text += " · " + size(speed) + "/s · " + duration((item.file.size - e.loaded) / speed) + " left";
        }
        item.view.stat.textContent = text;
      };
      xhr.upload.onload = () => { item.view.stat.textContent = "Checking…"; };
      xhr.onload = () => {
        const body = parse(xhr.responseText);
        if (xhr.status === 200) return resolve(body);
        reject(new Error(message(body, xhr.status)));
      };
      xhr.onerror = () => reject(new Error("The connection was lost."));
      xhr.onabort = () => reject(new Error("Cancelled"));
      xhr.send(item.file);
    });
    onIdle = async () => {
      if (done.length === 0) {
        fail(failed.size > 0 ? "None of the files arrived (see below). Choose them again, or others." : "Choose the files to send.");
        return;
      }
      try {
        await api("POST", base + "/" + encodeURIComponent(delivery) + "/finish");
      } catch (err) {
        fail(err.message);
        return;
      }
      const rows = document.getElementById("receipt-files");
      let total = 0;
      for (const answer of done) {
        total += answer.size;
        const tr = document.createElement("tr");
        const cell = (text, cls, label) => {
          const td = document.createElement("td");
          td.textContent = text;
          td.className = cls;
          if (label) td.dataset.label = label;
          tr.append(td);
        };
        cell(answer.file, "name");
        cell(size(answer.size), "num", "Size");
        cell(answer.sha256, "mono sum", "SHA-256");
        rows.append(tr);
      }
      document.getElementById("receipt-total").textContent = done.length + (done.length === 1 ? " file" : " files") + ", " + size(total);
      form.hidden = true;
      document.querySelectorAll(".lead, .message, .deliver > .muted").forEach((el) => { el.hidden = true; });
      document.querySelector(".deliver h1").textContent = "Sent";
      const receipt = document.getElementById("receipt");
      receipt.hidden = false;
      const refused = document.querySelectorAll("#uploads li.failed");
      if (refused.length > 0) {
        const card = document.createElement("div");
        card.className = "card error";
        card.setAttribute("role", "alert");
        const p = document.createElement("p");
        p.textContent = refused.length + (refused.length === 1 ? " file was" : " files were") + " not sent:";
        const ul = document.createElement("ul");
        refused.forEach((li) => {
          const item = document.createElement("li");
          item.textContent = li.querySelector(".name").textContent + ": " + li.querySelector(".stat").textContent;
          ul.append(item);
        });
        card.append(p, ul);
        receipt.querySelector(".card").after(card);
      }
    };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      document.getElementById("deliver-error").hidden = true;
      const email = document.getElementById("sender-email");
      if (!email.checkValidity()) { fail("Give your email, so that " + form.dataset.owner + " knows who sent the files."); return; }
      if (queue.length === 0 && done.length === 0) { fail("Choose the files to send."); return; }
      button.disabled = true;
      if (!delivery) {
        try {
          const body = new URLSearchParams({ name: document.getElementById("sender-name").value, email: email.value });
          delivery = (await api("POST", base + "/start", body)).delivery;
        } catch (err) {
          fail(err.message);
          return;
        }
      }
      holding = false;
      if (queue.length === 0 && running === 0) { onIdle(); return; }
      pump();
    });
  }

  // upload sends one file through the resumable upload calls, going on
  // from where an earlier try of the same file stopped. The file goes as
  // one request: the File itself, which the browser's network process
  // reads directly (a slice of it costs Chromium twice the CPU, and on two
  // cores halves the rate). The server keeps what a cut-off request
  // brought, so after a failure the rest goes as one request too, from
  // where the server stands. Only behind something that refuses large
  // requests (a 413, or web.upload_request_max) does it go in pieces.
  async function upload(item) {
    const file = item.file;
    const memo = "ferry-upload:" + item.path + ":" + file.size + ":" + file.lastModified;
    let key = localStorage.getItem(memo);
    let offset = 0;
    if (key) {
      const st = await call("GET", "/uploads/" + encodeURIComponent(key)).catch(() => null);
      if (st && st.size === file.size) {
        offset = st.received;
      } else {
        key = null;
      }
    }
    if (!key) {
      // resolve: a taken name gets a free one, so a drop replaces nothing.
      const body = new URLSearchParams({ path: item.path, size: String(file.size), resolve: "1" });
      const started = await call("POST", "/uploads/start", body);
      key = started.upload_key;
      localStorage.setItem(memo, key);
    }
    const t0 = performance.now();
    const resumedAt = offset;
    item.resumedAt = offset;
    const report = (sent) => {
      item.view.bar.value = sent;
      const secs = (performance.now() - t0) / 1000;
      const speed = secs > 0.2 ? (sent - resumedAt) / secs : 0;
      let text = size(sent) + " of " + size(file.size);
      if (speed > 0) {
        text += " · " + size(speed) + "/s · " + duration((file.size - sent) / speed) + " left";
      }
      if (resumedAt > 0) text += " · resumed";
      item.view.stat.textContent = text;
    };
    report(offset);
    let attempt = 0;
    while (offset < file.size) {
      if (item.cancelled) throw new Error("Cancelled");
      const end = requestMax > 0 ? Math.min(offset + requestMax, file.size) : file.size;
      try {
        offset = (await sendPart(item, key, offset, end, (n) => report(offset + n))).received;
        attempt = 0;
      } catch (err) {
        if (err.received !== undefined) { // the server stands elsewhere
          offset = err.received;
          continue;
        }
        if (err.tooLarge) {
          const smaller = FALLBACKS.find((n) => n < end - offset);
          if (smaller === undefined) throw new Error("A server in front of ferry refuses this upload even in parts of 1 MB: ask whoever runs it to allow larger requests.");
          requestMax = smaller;
        } else if (!err.network || item.cancelled || ++attempt > RETRIES) {
          throw err;
        } else {
          item.view.stat.textContent = "Connection lost; trying again…";
          await sleep(2000);
        }
        // Whatever part of the request arrived is kept: go on from there.
        const st = await call("GET", "/uploads/" + encodeURIComponent(key)).catch(() => null);
        if (st && st.received > offset) attempt = 0; // it moved: not the same failure again
        if (st) offset = st.received;
      }
      report(offset);
    }
    item.view.stat.textContent = "Checking…";
    const answer = await call("POST", "/uploads/" + encodeURIComponent(key) + "/finish");
    localStorage.removeItem(memo);
    return answer;
  }

  // sendPart sends the bytes [start, end) of the item's file as one
  // request: the File itself when that is all of it.
  function sendPart(item, key, start, end, progress) {
    const file = item.file;
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      item.xhr = xhr;
      xhr.open("PUT", "/uploads/" + encodeURIComponent(key));
      xhr.setRequestHeader("Content-Range", "bytes " + start + "-" + (end - 1) + "/" + file.size);
      xhr.upload.onprogress = (e) => progress(e.loaded);
      xhr.onload = () => {
        const body = parse(xhr.responseText);
        if (xhr.status === 200) return resolve(body);
        const err = new Error(message(body, xhr.status));
        if (xhr.status === 409 && body && typeof body.received === "number") err.received = body.received;
        // ferry itself never answers 413 to a part: this is a proxy's.
        if (xhr.status === 413) err.tooLarge = true;
        // A proxy in front whose ferry is down (restarting, say): as good
        // as a lost connection, to try again.
        if (xhr.status === 502 || xhr.status === 503 || xhr.status === 504) err.network = true;
        reject(err);
      };
      xhr.onerror = () => { const e = new Error("The connection was lost."); e.network = true; reject(e); };
      xhr.onabort = () => reject(new Error("Cancelled"));
      xhr.send(start === 0 && end === file.size ? file : file.slice(start, end));
    });
  }

  // Passkeys: the browser's WebAuthn calls between ferry's begin and
  // finish calls, with binary fields as base64url both ways.
  const b64url = {
    decode: (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)).buffer,
    encode: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
  };

  function passkeysWork() {
    return window.PublicKeyCredential !== undefined && navigator.credentials !== undefined;
  }

  function setUpPasskeyAdd(form) {
    const status = form.querySelector(".passkey-status");
    if (!passkeysWork()) {
      status.textContent = "This browser cannot make passkeys.";
      return;
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      status.textContent = "Follow your browser's prompt…";
      try {
        const begin = await call("POST", "/settings/passkeys/begin", new URLSearchParams({ name: form.elements.name.value }));
        const pk = begin.options.publicKey;
        pk.challenge = b64url.decode(pk.challenge);
        pk.user.id = b64url.decode(pk.user.id);
        (pk.excludeCredentials || []).forEach((c) => { c.id = b64url.decode(c.id); });
        const cred = await navigator.credentials.create({ publicKey: pk });
        const body = JSON.stringify({
          id: cred.id, rawId: b64url.encode(cred.rawId), type: cred.type,
          response: {
            attestationObject: b64url.encode(cred.response.attestationObject),
            clientDataJSON: b64url.encode(cred.response.clientDataJSON),
            transports: cred.response.getTransports ? cred.response.getTransports() : [],
          },
          clientExtensionResults: cred.getClientExtensionResults(),
        });
        const done = await call("POST", "/settings/passkeys/finish?ceremony=" + encodeURIComponent(begin.ceremony), body);
        location.href = done.next;
      } catch (err) {
        status.textContent = passkeyMessage(err, "No passkey was added");
      }
    });
  }

  function setUpPasskeySignIn(button) {
    if (!passkeysWork()) return;
    document.getElementById("passkey").hidden = false;
    button.hidden = false;
    const status = document.getElementById("passkey-status");
    button.addEventListener("click", async () => {
      status.textContent = "Follow your browser's prompt…";
      try {
        const begin = await call("POST", "/login/passkey/begin");
        const pk = begin.options.publicKey;
        pk.challenge = b64url.decode(pk.challenge);
        (pk.allowCredentials || []).forEach((c) => { c.id = b64url.decode(c.id); });
        const a = await navigator.credentials.get({ publicKey: pk });
        const body = JSON.stringify({
          id: a.id, rawId: b64url.encode(a.rawId), type: a.type,
          response: {
            authenticatorData: b64url.encode(a.response.authenticatorData),
            clientDataJSON: b64url.encode(a.response.clientDataJSON),
            signature: b64url.encode(a.response.signature),
            userHandle: a.response.userHandle ? b64url.encode(a.response.userHandle) : null,
          },
          clientExtensionResults: a.getClientExtensionResults(),
        });
        const next = new URLSearchParams(location.search).get("next") || "";
        const done = await call("POST", "/login/passkey/finish?ceremony=" + encodeURIComponent(begin.ceremony) + "&next=" + encodeURIComponent(next), body);
        location.href = done.next;
      } catch (err) {
        status.textContent = passkeyMessage(err, "You are not signed in");
      }
    });
  }

  // passkeyMessage says what became of a passkey's ceremony in words: the
  // browser's refusal (the person cancelled, or has no passkey here) or
  // ferry's.
  function passkeyMessage(err, what) {
    if (err && err.name === "NotAllowedError") return what + ": the browser's prompt was cancelled or timed out.";
    if (err && err.name === "InvalidStateError") return what + ": this passkey is kept here already.";
    return what + ": " + (err && err.message ? err.message : "something went wrong.");
  }

  async function call(method, url, body) {
    let res;
    try {
      res = await fetch(url, { method: method, body: body, credentials: "same-origin" });
    } catch (e) {
      const err = new Error("The connection was lost.");
      err.network = true;
      throw err;
    }
    const data = parse(await res.text());
    if (!res.ok) throw new Error(message(data, res.status));
    return data;
  }

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function message(body, status) {
    if (body && body.message) return body.message;
    if (status === 401) return "You are signed out: sign in again, then pick the file again to go on.";
    return "The upload failed (" + status + ").";
  }

  // refreshListing shows the folder as it is now, without losing the
  // list of uploads on the page.
  function refreshListing() {
    fetch(location.href, { credentials: "same-origin" }).then((res) => res.text()).then((html) => {
      const doc = new DOMParser().parseFromString(html, "text/html");
      const fresh = doc.getElementById("listing");
      const old = document.getElementById("listing");
      if (fresh && old) old.replaceWith(fresh);
      const q = doc.querySelector(".quota");
      const oldQ = document.querySelector(".quota");
      if (q && oldQ) oldQ.replaceWith(q);
    }).catch(() => {});
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  // size writes n bytes as the server's pages and messages do (quota.FormatSize):
  // 1000s, cut (not rounded) to one decimal, "KB" to "TB".
  function size(n) {
    if (n < 1000) return Math.floor(n) + " B";
    const units = ["KB", "MB", "GB", "TB"];
    let i = 0;
    n /= 1000;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return String(Math.floor(n * 10) / 10) + " " + units[i];
  }

  function duration(secs) {
    if (!isFinite(secs)) return "?";
    if (secs < 60) return Math.ceil(secs) + " s";
    if (secs < 3600) return Math.ceil(secs / 60) + " min";
    return (secs / 3600).toFixed(1) + " h";
  }
})();
