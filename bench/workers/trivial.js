// Baseline (1): the runtime's ceiling on this machine. No routing, no I/O: every request gets
// the same small JSON body with the same headers our API sends.
const BODY = JSON.stringify({ success: true, data: { ok: true } });
const HEADERS = { "Content-Type": "application/json; charset=utf-8" };

export default {
  fetch() {
    return new Response(BODY, { headers: HEADERS });
  },
};
