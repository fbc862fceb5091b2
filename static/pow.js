/* The sign form's proof of work (petitions/proofofwork.py): find a nonce such that
   SHA-256("challenge:nonce") starts with `bits` zero bits, put it in the form, and send.
   It starts when the page loads, so it is usually done before a person has typed; a submit
   before that waits, saying "Checking your browser...". A page from a shared cache has no
   challenge in it: the script fetches this reader's own first. Without WebCrypto, or after
   GIVE_UP_MS, the form is sent without a proof: the signature is then held for review,
   never refused. No inline script (the CSP is strict); no library. */
(function () {
  "use strict";
  var GIVE_UP_MS = 30000;
  var form = document.querySelector("form[data-pow]");
  if (!form) return;
  var challenge = form.querySelector("input[name=proof_challenge]");
  var nonceField = form.querySelector("input[name=proof_nonce]");
  var status = form.querySelector(".pow-status");
  if (!challenge || !nonceField || !window.crypto || !crypto.subtle || !window.TextEncoder) return;
  var bits = parseInt(challenge.getAttribute("data-pow-bits"), 10) || 0;
  var challengeUrl = form.getAttribute("data-pow-url");
  var encoder = new TextEncoder();
  var solved = false, waiting = false, gaveUp = false;

  function zeroBits(buffer) {
    var bytes = new Uint8Array(buffer), count = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { count += 8; continue; }
      for (var b = 7; b >= 0 && !(bytes[i] & (1 << b)); b--) count++;
      break;
    }
    return count;
  }

  function send() {
    if (status) { status.textContent = status.getAttribute("data-done"); }
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  async function search() {
    for (var nonce = 0; !gaveUp; nonce++) {
      var digest = await crypto.subtle.digest("SHA-256", encoder.encode(challenge.value + ":" + nonce));
      if (zeroBits(digest) >= bits) {
        nonceField.value = String(nonce);
        solved = true;
        if (waiting) send();
        return;
      }
    }
  }

  form.addEventListener("submit", function (event) {
    if (solved || gaveUp) return;
    event.preventDefault();
    if (waiting) return;
    waiting = true;
    if (status) { status.hidden = false; status.textContent = status.getAttribute("data-checking"); }
    setTimeout(function () { if (!solved) { gaveUp = true; send(); } }, GIVE_UP_MS);
  });

  /* A page a shared cache serves carries no challenge (each is used once, and made for one
     reader): ask for this reader's own first. */
  function fetchChallenge() {
    if (challenge.value || !challengeUrl) return Promise.resolve();
    return fetch(challengeUrl, { cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("no challenge");
        return response.json();
      })
      .then(function (data) {
        challenge.value = data.proof_challenge;
        bits = data.proof_bits;
      });
  }

  fetchChallenge().then(search).catch(function () { gaveUp = true; if (waiting) send(); });
})();
