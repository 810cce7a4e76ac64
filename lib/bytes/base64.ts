/** Base64 of bytes (RFC 4648, with padding), for data: URLs; portable (the web's `btoa`). */

/**
 * The standard base64 text of `bytes`. Encodes in chunks, so that large images do not exceed
 * the argument limit of `String.fromCharCode`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBase64 } from "./base64.ts";
 *
 * assert.equal(encodeBase64(new TextEncoder().encode("pose")), "cG9zZQ==");
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  const chunk = 0x3000 * 3; // a multiple of 3: no padding inside the text
  let out = "";
  for (let i = 0; i < bytes.length; i += chunk) {
    out += btoa(String.fromCharCode(...bytes.subarray(i, i + chunk)));
  }
  return out;
}
