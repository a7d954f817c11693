// The edit page: each cue of the report in a text box; Save sends that cue's text as it was
// and as it is now. Text is only ever set as text (textContent, value), never as markup.
"use strict";
(function () {
  const token = document.querySelector('meta[name="vidscribe-token"]').content;
  const id = decodeURIComponent(location.pathname.slice("/edit/".length));
  const list = document.getElementById("cues");
  const revisions = document.getElementById("revisions");
  const status = document.getElementById("status");
  const video = document.getElementById("video");

  const clock = (ms) => {
    const s = ms / 1000;
    const m = Math.floor(s / 60);
    return m + ":" + (s - m * 60).toFixed(3).padStart(6, "0");
  };

  function say(text) {
    status.textContent = text;
  }

  function showTrack(url) {
    for (const t of Array.from(video.querySelectorAll("track"))) t.remove();
    const track = document.createElement("track");
    track.kind = "captions";
    track.label = "Captions";
    track.default = true;
    // A new address each time, so the browser reads the captions as saved.
    track.src = url + "?v=" + Date.now();
    video.appendChild(track);
    track.track.mode = "showing";
  }

  function render(data) {
    list.textContent = "";
    data.cues.forEach((cue, i) => {
      const li = document.createElement("li");
      li.className = "cue";
      li.dataset.index = String(i);
      const time = document.createElement("button");
      time.type = "button";
      time.className = "time";
      time.textContent = clock(cue.start_ms) + " → " + clock(cue.end_ms);
      time.addEventListener("click", () => {
        video.currentTime = cue.start_ms / 1000;
      });
      const text = document.createElement("textarea");
      text.value = cue.lines.join("\n");
      text.rows = Math.max(2, cue.lines.length);
      const save = document.createElement("button");
      save.type = "button";
      save.className = "save";
      save.textContent = "Save";
      save.addEventListener("click", () => send(i, cue.lines, text));
      li.append(time, text, save);
      list.appendChild(li);
    });
    revisions.textContent = "";
    for (const r of data.revisions) {
      const li = document.createElement("li");
      li.textContent = "revision " + r.number + " by " + r.editor + " at " + r.at + " (" + r.source + "): " + r.changes + " changes";
      revisions.appendChild(li);
    }
    for (const c of data.corrections) {
      const li = document.createElement("li");
      li.className = "change";
      li.textContent = "  " + c.edit.change + " (revision " + c.edit.revision + "): “" + c.before + "” → “" + c.after + "”";
      revisions.appendChild(li);
    }
    if (data.video && video.getAttribute("src") !== data.video) video.src = data.video;
    if (data.track) showTrack(data.track);
  }

  async function load() {
    const r = await fetch("/api/report/" + encodeURIComponent(id));
    const data = await r.json();
    if (!r.ok) {
      say(data.error || "cannot load the report");
      return;
    }
    render(data);
    document.body.dataset.ready = String(data.revisions.length);
  }

  async function send(index, before, box) {
    const after = box.value.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
    say("saving…");
    const r = await fetch("/api/edit/" + encodeURIComponent(id), {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Vidscribe-Token": token },
      body: JSON.stringify({ cue: index, before: before, after: after }),
    });
    const data = await r.json();
    if (r.status === 409 && data.current) {
      // Someone else saved this cue first: say what it says now; what was typed stays.
      say(data.error + ". It now reads: “" + data.current.join(" / ") + "”. Your text is kept below; reload to start from theirs.");
      return;
    }
    if (!r.ok) {
      say(data.error || "the edit was not saved");
      return;
    }
    say(data.unchanged ? "nothing changed" : "saved as revision " + data.revision);
    await load();
  }

  load();
})();
