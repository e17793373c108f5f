// Follows a queued or executing job: one WAIT at a time (it returns when the phase changes or
// after the service's cap), then the page is read again if anything changed.
(function () {
  const job = document.body.dataset.job, phase = document.body.dataset.phase;
  let seen = null;
  async function follow() {
    try {
      const reply = await fetch(job + "?WAIT=-1&PHASE=" + phase,
        {headers: {Accept: "application/json"}, cache: "no-store"});
      const doc = await reply.json();
      const now = JSON.stringify([doc.phase, doc.jobInfo, doc.results]);
      if (doc.phase !== phase || (seen !== null && now !== seen)) { location.reload(); return; }
      seen = now;
    } catch (error) {
      await new Promise(function (done) { setTimeout(done, 5000); });
    }
    follow();
  }
  follow();
})();
