// The uploader's hashing, off the page's thread: one sequential read of the file, feeding the
// whole-file SHA-256 (declared at completion) and, for the parts storage already holds when an
// upload resumes, each part's MD5 (compared with the part's ETag, which S3 makes the MD5 of the
// part's bytes). Messages out: {type: "progress", bytes}, {type: "md5", part, hex},
// {type: "done", sha256}, {type: "error", message}.
"use strict";

const CHUNK_BYTES = 4 * 1024 * 1024;
// Up to this size, with no part to check, the file is hashed in one call of the browser's own
// SHA-256 (WebCrypto: native code, several times faster than WebAssembly, so it takes less CPU
// from the upload itself); it then holds the file in memory once. Larger files, or a browser
// without WebCrypto (a page not served over https or from localhost), hash incrementally.
const NATIVE_HASH_MAX_BYTES = 512 * 1024 * 1024;
let loaded = false;

async function nativeSha256(file) {
  const digest = await self.crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

self.onmessage = async (event) => {
  const { file, partSize, md5Parts, scripts } = event.data;
  try {
    if (!md5Parts.length && file.size <= NATIVE_HASH_MAX_BYTES && self.crypto && self.crypto.subtle) {
      const sha256 = await nativeSha256(file);
      self.postMessage({ type: "progress", bytes: file.size });
      self.postMessage({ type: "done", sha256 });
      return;
    }
    if (!loaded) {
      // The vendored hash-wasm builds add their functions to one global `hashwasm`.
      importScripts(...scripts);
      loaded = true;
    }
    const sha256 = await self.hashwasm.createSHA256();
    sha256.init();
    const wanted = new Set(md5Parts);
    const md5 = wanted.size ? await self.hashwasm.createMD5() : null;
    const partCount = Math.max(1, Math.ceil(file.size / partSize));
    for (let part = 1; part <= partCount; part += 1) {
      const start = (part - 1) * partSize;
      const end = Math.min(start + partSize, file.size);
      const checkPart = wanted.has(part);
      if (checkPart) md5.init();
      // Chunks never cross a part boundary, so a part's MD5 sees exactly its bytes.
      for (let offset = start; offset < end; offset += CHUNK_BYTES) {
        const stop = Math.min(offset + CHUNK_BYTES, end);
        const bytes = new Uint8Array(await file.slice(offset, stop).arrayBuffer());
        sha256.update(bytes);
        if (checkPart) md5.update(bytes);
        self.postMessage({ type: "progress", bytes: stop });
      }
      if (checkPart) self.postMessage({ type: "md5", part, hex: md5.digest("hex") });
    }
    self.postMessage({ type: "done", sha256: sha256.digest("hex") });
  } catch (error) {
    self.postMessage({ type: "error", message: String((error && error.message) || error) });
  }
};
