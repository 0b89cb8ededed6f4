// The dev inbox's only script: keeps the list current (polls the JSON list every second)
// and asks before "delete all". Content goes into the page as text, never as HTML.
"use strict";

(function () {
  const deleteForm = document.getElementById("delete-all");
  if (deleteForm) {
    deleteForm.addEventListener("submit", function (event) {
      if (!window.confirm("Delete every email in the outbox?")) event.preventDefault();
    });
  }
  const source = document.body.dataset.live;
  const table = document.getElementById("messages");
  if (!source || !table) return;
  const body = table.tBodies[0];
  const count = document.getElementById("count");
  let shown = rowsKey(Array.from(body.rows, function (row) { return row.dataset.id; }));

  function rowsKey(ids) { return ids.join(","); }

  function size(bytes) {
    if (bytes < 1000) return bytes + " B";
    if (bytes < 1000000) return (bytes / 1000).toFixed(1) + " kB";
    return (bytes / 1000000).toFixed(1) + " MB";
  }

  function cell(row, text) {
    const td = row.insertCell();
    td.textContent = text;
    return td;
  }

  function render(messages, total) {
    const rows = document.createDocumentFragment();
    for (const message of messages) {
      const row = document.createElement("tr");
      row.dataset.id = message.id;
      cell(row, message.from);
      cell(row, message.to.join(", "));
      const link = document.createElement("a");
      link.href = "/inbox/" + encodeURIComponent(message.id);
      link.textContent = message.subject || "(no subject)";
      cell(row, "").appendChild(link);
      const time = document.createElement("time");
      time.textContent = message.date;
      cell(row, "").appendChild(time);
      cell(row, size(message.size));
      cell(row, String(message.attachments.length));
      rows.appendChild(row);
    }
    body.replaceChildren(rows);
    count.textContent = total + (total === 1 ? " email" : " emails");
  }

  async function poll() {
    try {
      const answer = await fetch(source, { credentials: "same-origin", cache: "no-store" });
      if (answer.status === 401) { window.location.assign("/inbox/login"); return; }
      if (answer.ok) {
        const list = await answer.json();
        const key = rowsKey(list.messages.map(function (m) { return m.id; }));
        if (key !== shown) { render(list.messages, list.total); shown = key; }
      }
    } catch (error) {
      // The server restarting: try again at the next tick.
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 1000);
})();
