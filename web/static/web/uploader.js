// The browser uploader of a submission's archives (the "Files" step). The bytes go from the
// browser straight to object storage on presigned part URLs; our API (MDC §6, with this session
// and its CSRF token) only starts, signs, lists, completes and aborts. No framework, no build.
//
// Markup: an element with `data-uploader` and the data attributes files.html renders (API base,
// size cap, the submission's unfinished upload if any), holding [data-role] children.
//
// Resume: the page knows the unfinished upload (id, filename, size, expiry). When the same file
// (same name and size) is selected again, the uploader asks the API which parts storage holds,
// checks those against the file (size, and MD5 against the ETag in the hash worker) and sends
// only the others. It never calls start again for it: a start supersedes earlier uploads.
(() => {
  "use strict";

  const MiB = 1024 * 1024;
  const PARALLEL_PARTS = 4;
  // Big files go in about this many parts (fewer round trips), never under the API's minimum part
  // size nor over 64 MiB; small ones in parts of the minimum (a 13 MiB archive: 5 + 5 + 3 MiB).
  const TARGET_PARTS = 16;
  const MAX_PREFERRED_PART = 64 * MiB;
  const ATTEMPTS_PER_PART = 4;
  const BACKOFF_MS = [1000, 3000, 9000]; // before the 2nd, 3rd and 4th attempt
  const SUFFIXES = [".tar.gz", ".tgz"];
  const MD5_ETAG = /^[0-9a-f]{32}$/; // S3's ETag of a part is the MD5 of its bytes
  const SPEED_WINDOW_MS = 8000;
  const PART_TIMEOUT_MS = 10 * 60 * 1000; // a stalled PUT is retried (the SDK waits 600 s too)
  // A part's URL is asked for while the part before it is on its way, so no PUT waits for a
  // signing round trip; one asked for longer ago than this is asked for again (URLs are valid
  // for 15 minutes by default).
  const URL_REUSE_MS = 2 * 60 * 1000;
  // Completion answers that mean storage does not hold what this page believes it sent: the
  // uploader then lists the stored parts and sends what is missing.
  const PART_PROBLEMS = new Set(["missing_parts", "etag_mismatch", "invalid_parts", "size_mismatch", "part_too_small"]);

  class Stopped extends Error {} // paused, or the upload was abandoned
  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.message || body.error)) || `The server answered ${status}.`);
      this.status = status;
      this.code = body ? body.error : undefined;
      this.body = body || {};
    }
  }
  class PartFailed extends Error {
    constructor(part, cause) {
      super(`Part ${part} could not be sent after ${ATTEMPTS_PER_PART} attempts (${cause.message}).`);
    }
  }

  // The units of Django's filesizeformat, so the page reads the same before and after a reload.
  function formatBytes(bytes) {
    if (bytes < 1024) return `${bytes} bytes`;
    const units = ["KB", "MB", "GB", "TB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value.toFixed(1)} ${units[unit]}`;
  }

  function formatDuration(seconds) {
    if (!Number.isFinite(seconds)) return "";
    if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  // The server's cleaning of a filename (marketplace.services.uploads._safe_filename), so that a
  // re-selected file is recognised under the name the upload was recorded with.
  function safeFilename(name) {
    const base = name.replace(/\\/g, "/").split("/").pop();
    return base.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\.+/, "").slice(0, 200) || "archive.tar.gz";
  }

  class Uploader {
    constructor(root) {
      const data = root.dataset;
      this.root = root;
      this.base = data.apiBase;
      this.label = data.label;
      this.submissionId = data.submissionId;
      this.maxBytes = Number(data.maxBytes);
      this.minPartBytes = Number(data.minPartBytes);
      this.maxParts = Number(data.maxParts);
      this.csrfToken = data.csrfToken;
      this.workerUrl = data.workerUrl;
      this.hashScripts = data.hashScripts
        .split(/\s+/)
        .filter(Boolean)
        .map((url) => new URL(url, window.location.href).href);
      this.unfinished = data.uploadId
        ? {
            id: data.uploadId,
            filename: data.uploadFilename,
            size: Number(data.uploadSize),
            expiresAt: new Date(data.uploadExpiresAt),
          }
        : null;
      this.el = {};
      for (const role of ["file", "progress-box", "progress", "numbers", "status", "pause", "resume", "abort"]) {
        this.el[role] = root.querySelector(`[data-role="${role}"]`);
      }
      this.stateBox = root.closest("section").querySelector('[data-role="state"]');
      this.labelEl = root.querySelector("label");
      this.session = null;
      this.el.file.addEventListener("change", () => this.onSelect());
      this.el.pause.addEventListener("click", () => this.pause());
      this.el.resume.addEventListener("click", () => this.resume());
      this.el.abort.addEventListener("click", () => this.startOver());
    }

    // --- messages and buttons --------------------------------------------------------------

    say(text, { error = false } = {}) {
      this.el.status.textContent = text;
      this.el.status.classList.toggle("field-error", error);
    }

    buttons({ pause = false, resume = false, abort = false }) {
      this.el.pause.hidden = !pause;
      this.el.resume.hidden = !resume;
      this.el.abort.hidden = !abort;
    }

    // --- the API ----------------------------------------------------------------------------

    async api(method, path, body, signal) {
      const headers = { Accept: "application/json", "X-CSRFToken": this.csrfToken };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      let response;
      try {
        response = await fetch(this.base + path, {
          method,
          headers,
          credentials: "same-origin",
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch (error) {
        if (error.name === "AbortError") throw new Stopped();
        throw new Error("the server could not be reached");
      }
      if (response.status === 204) return null;
      const payload = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(response.status, payload);
      return payload;
    }

    // --- choosing a file ----------------------------------------------------------------------

    refusal(file) {
      const name = file.name.toLowerCase();
      if (!SUFFIXES.some((suffix) => name.endsWith(suffix) && name.length > suffix.length)) {
        return `${file.name} is not a gzip-compressed tar archive: only .tar.gz and .tgz files are accepted. Nothing was uploaded.`;
      }
      if (file.size === 0) return `${file.name} is empty. Nothing was uploaded.`;
      if (file.size > this.maxBytes) {
        return `${file.name} is ${formatBytes(file.size)}, over the limit of ${formatBytes(this.maxBytes)} per file. Nothing was uploaded.`;
      }
      return null;
    }

    partSizeFor(size) {
      // Whole MiB: about TARGET_PARTS parts (at least the API's minimum, at most 64 MiB), and
      // always large enough for the file to fit in the API's part limit.
      const preferred = Math.min(MAX_PREFERRED_PART, Math.ceil(size / TARGET_PARTS / MiB) * MiB);
      const fits = Math.ceil(size / this.maxParts / MiB) * MiB;
      return Math.max(this.minPartBytes, preferred, fits);
    }

    async onSelect() {
      const file = this.el.file.files[0];
      if (!file || this.session) return;
      const refusal = this.refusal(file);
      if (refusal) {
        this.say(refusal, { error: true });
        this.el.file.value = "";
        return;
      }
      this.el.file.disabled = true;
      try {
        const plan = (await this.resumePlan(file)) || (await this.startPlan(file));
        this.session = this.newSession(file, plan);
        this.showUploading(file);
        this.run();
      } catch (error) {
        this.el.file.disabled = false;
        this.el.file.value = "";
        this.fail(error);
      }
    }

    // The unfinished upload of this same file, as storage holds it; null to start a new one.
    async resumePlan(file) {
      const unfinished = this.unfinished;
      if (
        !unfinished ||
        unfinished.size !== file.size ||
        unfinished.filename !== safeFilename(file.name) ||
        unfinished.expiresAt <= new Date()
      ) {
        return null;
      }
      let listing;
      try {
        listing = await this.api("GET", `/${unfinished.id}/parts`);
      } catch (error) {
        if (error instanceof ApiError && (error.status === 404 || error.status === 410)) return null;
        throw error;
      }
      if (listing.state !== "uploading") return null;
      // The upload's part size is its first part's when that is not the whole file (another
      // client, such as the SDK, may have started it with its own); ours otherwise.
      let partSize = this.partSizeFor(file.size);
      const first = listing.parts.find((part) => part.partNumber === 1);
      if (first && first.size < file.size && first.size >= this.minPartBytes) partSize = first.size;
      const partCount = Math.ceil(file.size / partSize);
      // Storage holds parts this file cannot have: completion would refuse them. Start over.
      if (listing.parts.some((part) => part.partNumber > partCount)) return null;
      const stored = new Map();
      for (const part of listing.parts) {
        // A part of the wrong size is sent again (a PUT of the same number replaces it).
        if (part.size === Math.min(partSize, file.size - (part.partNumber - 1) * partSize)) {
          stored.set(part.partNumber, part.etag);
        }
      }
      if (listing.assembled) {
        // Storage already assembled the parts: nothing can be sent again. The parts are checked
        // against the file (MD5) and the upload completed; another file starts over.
        if (stored.size !== partCount) return null;
        this.say(`Resuming ${file.name}: every part is stored and assembled. Checking them against the file.`);
        return { id: listing.fileUploadId, uploadId: listing.uploadId, partSize, stored, assembled: true };
      }
      this.say(
        `Resuming ${file.name}: ${stored.size} of ${partCount} part${partCount === 1 ? "" : "s"} already stored. ` +
          "Checking them against the file and sending the rest.",
      );
      return { id: listing.fileUploadId, uploadId: listing.uploadId, partSize, stored };
    }

    async startPlan(file) {
      const replaced = this.unfinished;
      this.say(
        replaced
          ? `Starting a new upload of ${file.name}; the unfinished upload of ${replaced.filename} is discarded.`
          : `Starting the upload of ${file.name}.`,
      );
      const started = await this.api("POST", "", {
        submissionId: this.submissionId,
        filename: file.name,
        fileSize: file.size,
        mimeType: "application/gzip",
      });
      this.unfinished = {
        id: started.fileUploadId,
        filename: started.filename,
        size: started.fileSize,
        expiresAt: new Date(started.expiresAt),
      };
      const partSize = this.partSizeFor(file.size);
      const partCount = Math.max(1, Math.ceil(file.size / partSize));
      this.say(
        `Sending ${file.name} in ${partCount} part${partCount === 1 ? "" : "s"} of up to ${formatBytes(partSize)}, ${PARALLEL_PARTS} at a time.`,
      );
      return { id: started.fileUploadId, uploadId: started.uploadId, partSize, stored: new Map() };
    }

    // The state shown above the uploader while a file is on its way.
    showUploading(file) {
      this.stateBox.querySelector('[data-role="in-progress"]')?.remove();
      const note = document.createElement("p");
      note.dataset.role = "in-progress";
      note.innerHTML = '<span class="status status-in_review">Uploading</span> ';
      note.append(file.name);
      if (this.stateBox.querySelector('[data-role="completed"]')) {
        note.append(": when it completes it replaces the file above.");
        this.stateBox.append(note);
      } else {
        this.stateBox.replaceChildren(note);
      }
    }

    newSession(file, plan) {
      const partCount = Math.max(1, Math.ceil(file.size / plan.partSize));
      const sizeOf = (n) => Math.min(plan.partSize, file.size - (n - 1) * plan.partSize);
      const queue = [];
      let storedBytes = 0;
      for (let n = 1; n <= partCount; n += 1) {
        if (plan.stored.has(n)) storedBytes += sizeOf(n);
        else queue.push(n);
      }
      return {
        file,
        id: plan.id,
        uploadId: plan.uploadId,
        partSize: plan.partSize,
        partCount,
        sizeOf,
        stored: plan.stored, // part number -> ETag from storage (null: not known)
        urls: new Map(), // part number -> {at, promise of its URL or null} asked for in advance
        unverified: new Set(), // stored parts the hash worker has not compared yet
        queue, // part numbers still to send
        inflight: new Map(), // part number -> bytes of it sent so far
        doneBytes: storedBytes,
        sent: 0, // bytes transferred this session (for the speed)
        samples: [],
        sha256: null,
        hashed: 0,
        hashError: null,
        worker: null,
        waiters: [],
        run: null,
        assembled: Boolean(plan.assembled), // storage assembled the stored parts already
        otherFile: false, // ... from another file than this one
        assembling: false, // storage is assembling the parts (before the completion)
        completions: 0,
      };
    }

    // --- hashing ------------------------------------------------------------------------------

    startHash(s) {
      const worker = new Worker(this.workerUrl);
      s.worker = worker;
      const md5Parts = [...s.stored].filter(([, etag]) => MD5_ETAG.test(etag || "")).map(([n]) => n);
      s.unverified = new Set(md5Parts);
      worker.onmessage = (event) => {
        const message = event.data;
        if (message.type === "progress") {
          s.hashed = message.bytes;
        } else if (message.type === "md5") {
          s.unverified.delete(message.part);
          if (s.stored.has(message.part) && s.stored.get(message.part) !== message.hex && s.assembled) {
            // Assembled from another file of this name and size: nothing can be sent into it.
            s.otherFile = true;
          } else if (s.stored.has(message.part) && s.stored.get(message.part) !== message.hex) {
            // Storage holds other bytes under this number (another file of the same name and
            // size): send this file's part again.
            s.stored.delete(message.part);
            s.doneBytes -= s.sizeOf(message.part);
            s.queue.push(message.part);
            this.say(`Part ${message.part} in storage differs from this file; sending it again.`);
          }
          this.wake(s);
        } else if (message.type === "done") {
          s.sha256 = message.sha256;
          worker.terminate();
          this.wake(s);
        } else if (message.type === "error") {
          s.hashError = message.message;
          this.wake(s);
        }
      };
      worker.onerror = (event) => {
        s.hashError = event.message || "the checksum could not be computed";
        this.wake(s);
      };
      worker.postMessage({ file: s.file, partSize: s.partSize, md5Parts, scripts: this.hashScripts });
    }

    // Resolves with the file's SHA-256 (the worker is started if it was not yet).
    async checksum(s, run) {
      if (!s.worker) this.startHash(s);
      for (;;) {
        if (run.stopped) throw new Stopped();
        if (s.hashError) throw new Error(`The file could not be read: ${s.hashError}`);
        if (s.sha256 !== null) return s.sha256;
        await new Promise((resolve) => s.waiters.push(resolve));
      }
    }

    wake(s) {
      for (const resolve of s.waiters.splice(0)) resolve();
    }

    // --- sending ------------------------------------------------------------------------------

    async run() {
      const s = this.session;
      const run = { stopped: false, controller: new AbortController(), xhrs: new Set(), error: null };
      s.run = run;
      this.el.file.disabled = true;
      this.el["progress-box"].hidden = false;
      this.buttons({ pause: true, abort: true });
      if (!s.worker) this.startHash(s);
      const ticker = window.setInterval(() => this.showProgress(s), 500);
      this.showProgress(s);
      try {
        const pumps = Array.from({ length: PARALLEL_PARTS }, () =>
          this.pump(s, run).catch((error) => {
            if (!(error instanceof Stopped) && !run.error) {
              run.error = error;
              this.stop(run); // one fatal error stops the others
            }
          }),
        );
        await Promise.all(pumps);
        if (run.error) throw run.error;
        if (run.stopped) return; // paused
        await this.complete(s, run);
      } catch (error) {
        if (error instanceof Stopped) return;
        this.fail(error);
      } finally {
        window.clearInterval(ticker);
        if (this.session === s) this.showProgress(s);
      }
    }

    async pump(s, run) {
      for (;;) {
        if (run.stopped) throw new Stopped();
        if (s.hashError) throw new Error(`The file could not be read: ${s.hashError}`);
        if (s.otherFile) {
          // The upload cannot take this file's bytes any more: a new upload must (410 resets).
          throw new ApiError(410, { message: "The stored upload holds another file of this name and size.", error: "other_file" });
        }
        const part = s.queue.shift();
        if (part === undefined) {
          // Nothing left to send (the other pumps finish theirs), and the parts found stored are
          // checked against the file (a part that differs comes back to the queue).
          if (s.unverified.size === 0) return;
          await new Promise((resolve) => s.waiters.push(resolve));
          continue;
        }
        await this.sendPart(s, run, part);
      }
    }

    async sendPart(s, run, part) {
      const start = (part - 1) * s.partSize;
      const blob = s.file.slice(start, start + s.sizeOf(part));
      let lastError = null;
      for (let attempt = 1; attempt <= ATTEMPTS_PER_PART && !run.stopped; attempt += 1) {
        try {
          const url = await this.partUrl(s, run, part);
          this.prefetchUrl(s, run);
          const etag = await this.put(s, run, part, url, blob);
          s.inflight.delete(part);
          s.stored.set(part, etag);
          s.doneBytes += blob.size;
          this.showProgress(s);
          return;
        } catch (error) {
          s.inflight.delete(part);
          if (run.stopped || error instanceof Stopped) break;
          // The API refused (the upload is gone, completed, not ours): retrying cannot help.
          if (error instanceof ApiError && error.status < 500 && error.status !== 429) throw error;
          lastError = error;
          if (attempt < ATTEMPTS_PER_PART) {
            const delay = BACKOFF_MS[attempt - 1] * (0.75 + Math.random() / 2);
            this.say(`Part ${part} failed (${error.message}); trying again in ${Math.ceil(delay / 1000)} s.`);
            await new Promise((resolve) => window.setTimeout(resolve, delay));
          }
        }
      }
      s.queue.unshift(part); // not stored: it is sent on resume
      if (run.stopped) throw new Stopped();
      throw new PartFailed(part, lastError);
    }

    // Declaring the part size makes the URL sign this part's exact length: storage refuses a
    // PUT of any other size.
    signPart(s, run, part) {
      return this.api("GET", `/${s.id}/parts/${part}?partSize=${s.partSize}`, undefined, run.controller.signal);
    }

    async partUrl(s, run, part) {
      const early = s.urls.get(part);
      s.urls.delete(part);
      if (early && performance.now() - early.at < URL_REUSE_MS) {
        const signed = await early.promise;
        if (signed) return signed.url;
      }
      return (await this.signPart(s, run, part)).url;
    }

    // Ask for the URL of the next part waiting in the queue (an error here is only a miss: the
    // part asks again when its turn comes).
    prefetchUrl(s, run) {
      const next = s.queue.find((n) => !s.urls.has(n));
      if (next === undefined || run.stopped) return;
      s.urls.set(next, { at: performance.now(), promise: this.signPart(s, run, next).catch(() => null) });
    }

    put(s, run, part, url, blob) {
      return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        run.xhrs.add(xhr);
        s.inflight.set(part, 0);
        const settle = (callback) => () => {
          run.xhrs.delete(xhr);
          callback();
        };
        xhr.open("PUT", url);
        xhr.timeout = PART_TIMEOUT_MS;
        xhr.upload.onprogress = (event) => {
          s.sent += event.loaded - (s.inflight.get(part) || 0);
          s.inflight.set(part, event.loaded);
        };
        // The part's ETag, when storage lets the page read it (the bucket's CORS exposes it).
        const etagOf = () => (xhr.getResponseHeader("ETag") || "").replace(/"/g, "") || null;
        xhr.onload = settle(() =>
          xhr.status >= 200 && xhr.status < 300 ? resolve(etagOf()) : reject(new Error(`storage answered ${xhr.status}`)),
        );
        xhr.onerror = settle(() => reject(new Error("network error")));
        xhr.ontimeout = settle(() => reject(new Error("timed out")));
        xhr.onabort = settle(() => reject(new Stopped()));
        // No Content-Type: the part URL signs none (a slice of a File has an empty type).
        xhr.send(blob);
      });
    }

    stop(run) {
      run.stopped = true;
      run.controller.abort();
      for (const xhr of [...run.xhrs]) xhr.abort();
      if (this.session) {
        this.session.urls.clear(); // asked for with this run's signal: aborted
        this.wake(this.session);
      }
    }

    // --- completing ---------------------------------------------------------------------------

    async complete(s, run) {
      this.buttons({ abort: true });
      const parts = [];
      for (let n = 1; n <= s.partCount; n += 1) parts.push({ partNumber: n, etag: s.stored.get(n) });
      if (parts.every((part) => part.etag)) {
        // Every ETag is known from storage's own answers. While the checksum is computed,
        // storage assembles the parts (the server checks the list against storage first); the
        // completion then only records. If storage holds something else, list and repair below.
        try {
          if (s.sha256 === null) {
            this.say("All parts are stored; storage assembles the file while its checksum is computed.");
            const hashing = this.checksum(s, run);
            hashing.catch(() => {}); // awaited below; a failure is reported there
            s.assembling = true;
            try {
              await this.api("POST", `/${s.id}/assemble`, { uploadId: s.uploadId, parts }, run.controller.signal);
            } finally {
              s.assembling = false;
            }
            await hashing;
          }
          this.say("Completing the upload.");
          return this.completed(s, await this.completion(s, run, parts));
        } catch (error) {
          if (!(error instanceof ApiError && PART_PROBLEMS.has(error.code))) throw error;
        }
      }
      await this.checksum(s, run);
      return this.completeFromListing(s, run);
    }

    completion(s, run, parts) {
      return this.api("POST", `/${s.id}`, { uploadId: s.uploadId, parts, checksum: s.sha256 }, run.controller.signal);
    }

    async completeFromListing(s, run) {
      // The ETags from storage itself (a browser may not be allowed to read them from the PUT
      // responses), checked against the parts this file needs.
      const listing = await this.api("GET", `/${s.id}/parts`, undefined, run.controller.signal);
      const stored = new Map(listing.parts.map((part) => [part.partNumber, part]));
      const missing = [];
      for (let n = 1; n <= s.partCount; n += 1) {
        if (!stored.has(n) || stored.get(n).size !== s.sizeOf(n)) missing.push(n);
      }
      if (missing.length) {
        s.completions += 1;
        if (s.completions > 2) throw new Error(`Storage is missing part(s) ${missing.join(", ")}.`);
        for (const n of missing) {
          if (s.stored.delete(n)) s.doneBytes -= s.sizeOf(n);
          s.queue.push(n);
        }
        return this.run();
      }
      const parts = [];
      for (let n = 1; n <= s.partCount; n += 1) parts.push({ partNumber: n, etag: stored.get(n).etag });
      this.completed(s, await this.completion(s, run, parts));
    }

    completed(s, upload) {
      this.session = null;
      this.unfinished = null;
      this.el.progress.value = 100;
      this.el.numbers.textContent = `100% · ${formatBytes(upload.fileSize)}`;
      this.buttons({});
      this.el.file.disabled = false;
      this.el.file.value = "";
      this.labelEl.textContent = "Replace with another archive";
      this.showCompleted(upload);
      this.say(`Uploaded ${upload.filename} (${formatBytes(upload.fileSize)}). The upload is completed.`);
      // For whatever else is on the page (and for measuring): the upload as the API answered it.
      this.root.dispatchEvent(new CustomEvent("uploader:completed", { bubbles: true, detail: upload }));
    }

    showCompleted(upload) {
      const box = this.stateBox;
      box.replaceChildren();
      const badge = document.createElement("p");
      badge.innerHTML = '<span class="status status-approved">Uploaded</span>';
      const list = document.createElement("dl");
      for (const [term, value, className] of [
        ["File", upload.filename],
        ["Size", `${formatBytes(upload.fileSize)} (${upload.fileSize} bytes)`],
        ["SHA-256 (as declared by the uploader)", upload.checksum, "hash"],
      ]) {
        const dt = document.createElement("dt");
        dt.textContent = term;
        const dd = document.createElement("dd");
        dd.textContent = value;
        if (className) dd.className = className;
        list.append(dt, dd);
      }
      const wrapper = document.createElement("div");
      wrapper.dataset.role = "completed";
      wrapper.append(badge, list);
      box.append(wrapper);
    }

    // --- pause, resume, start over, failures --------------------------------------------------

    pause() {
      const s = this.session;
      if (!s || !s.run || s.run.stopped) return;
      this.stop(s.run);
      this.buttons({ resume: true, abort: true });
      this.say(`Paused with ${formatBytes(s.doneBytes)} of ${formatBytes(s.file.size)} stored. Press Resume to continue.`);
    }

    resume() {
      const s = this.session;
      if (!s || (s.run && !s.run.stopped)) return;
      this.say(`Resuming ${s.file.name}.`);
      this.run();
    }

    async startOver() {
      const s = this.session;
      const id = s ? s.id : this.unfinished && this.unfinished.id;
      if (s) {
        if (s.run) this.stop(s.run);
        if (s.worker) s.worker.terminate();
        this.session = null;
      }
      if (id) {
        try {
          await this.api("DELETE", `/${id}`);
        } catch (error) {
          if (!(error instanceof ApiError && (error.status === 404 || error.status === 410))) {
            // Not discarded (a completed upload is 409): say why; the button stays to try again.
            this.el.file.disabled = false;
            this.say(error.message, { error: true });
            return;
          }
        }
      }
      this.reset();
      this.say("The unfinished upload is discarded. Choose a file to start again.");
    }

    // No upload under way any more: the file (if any) that is attached stays shown.
    reset() {
      this.session = null;
      this.unfinished = null;
      this.stateBox.querySelector('[data-role="in-progress"]')?.remove();
      // Nothing left to resume: the file input says what choosing a file does now.
      if (!this.stateBox.querySelector('[data-role="completed"]')) {
        this.stateBox.innerHTML = '<p><span class="status status-draft">Not uploaded</span></p>';
        this.labelEl.textContent = `Choose the ${this.label.toLowerCase()}`;
      } else {
        this.labelEl.textContent = "Replace with another archive";
      }
      this.el["progress-box"].hidden = true;
      this.el.progress.value = 0;
      this.buttons({});
      this.el.file.disabled = false;
      this.el.file.value = "";
    }

    fail(error) {
      const s = this.session;
      if (error instanceof ApiError && error.status === 410) {
        // Superseded (another tab or the SDK started a new one), expired or aborted.
        if (s && s.worker) s.worker.terminate();
        this.reset();
        this.say(`${error.message} Select the file again to start a new upload.`, { error: true });
        return;
      }
      if (s) {
        // Keep what is stored: Resume tries again from there.
        this.buttons({ resume: true, abort: true });
        this.say(`${error.message} Press Resume to try again.`, { error: true });
        return;
      }
      this.say(error.message, { error: true });
    }

    showProgress(s) {
      const now = performance.now();
      s.samples.push([now, s.sent]);
      while (s.samples.length > 2 && now - s.samples[0][0] > SPEED_WINDOW_MS) s.samples.shift();
      let inflight = 0;
      for (const loaded of s.inflight.values()) inflight += loaded;
      const size = s.file.size;
      const done = Math.min(size, s.doneBytes + inflight);
      const percent = size ? Math.floor((done / size) * 100) : 100;
      this.el.progress.value = percent;
      const [t0, sent0] = s.samples[0];
      const speed = now > t0 ? ((s.sent - sent0) / (now - t0)) * 1000 : 0;
      const parts = [`${percent}%`, `${formatBytes(done)} of ${formatBytes(size)}`];
      if (s.run && !s.run.stopped && done < size && speed > 0) {
        parts.push(`${formatBytes(Math.round(speed))}/s`, `about ${formatDuration((size - done) / speed)} left`);
      }
      if (done >= size && s.assembling) parts.push("storage is assembling the file");
      if (done >= size && s.sha256 === null) {
        parts.push(`computing the checksum: ${Math.floor((s.hashed / size) * 100)}%`);
      }
      this.el.numbers.textContent = parts.join(" · ");
    }
  }

  for (const root of document.querySelectorAll("[data-uploader]")) new Uploader(root);
})();
