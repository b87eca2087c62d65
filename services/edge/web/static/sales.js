// The sales form on a phone at the customer's site, often offline. A filled-in order goes into a
// queue on the phone (IndexedDB) with an idempotency key made when it was submitted; the queue
// is sent whenever the network is there (on load, on coming back online, every 15 s). The same
// key never makes two orders (ingest's SubmitPhoneOrder), so sending again after a lost answer
// is safe. Customers and the option libraries are kept from the last time the page was online.
"use strict";

(() => {
  const { t, el } = OMS;
  const SUBMIT = "/oms.ingest.v1.IngestService/SubmitPhoneOrder";
  const CACHE_KEY = "oms-sales-cache";
  const PHOTO_MAX = 5 * 1024 * 1024;
  let reference = null; // {options, customers}

  // --- the queue (IndexedDB: a photo is too big for localStorage) ---
  const db = new Promise((resolve, reject) => {
    const open = indexedDB.open("oms-sales", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("queue", { keyPath: "idempotencyKey" });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });

  async function store(mode, work) {
    const handle = await db;
    return new Promise((resolve, reject) => {
      const tx = handle.transaction("queue", mode);
      const result = work(tx.objectStore("queue"));
      tx.oncomplete = () => resolve(result.result);
      tx.onerror = () => reject(tx.error);
    });
  }
  const entries = () => store("readonly", (s) => s.getAll());
  const put = (entry) => store("readwrite", (s) => s.put(entry));

  // --- sending ---
  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      for (const entry of await entries()) {
        if (entry.state !== "queued") continue;
        try {
          const answer = await OMS.rpc(SUBMIT, entry.request);
          Object.assign(entry, { state: "accepted", orderNo: answer.orderNo, request: null });
        } catch (error) {
          if (!error.status) break; // no network: the rest wait too
          if (error.status >= 500 || error.status === 429) break; // the system is busy: later
          Object.assign(entry, { state: "refused", reason: error.message });
        }
        await put(entry);
      }
    } finally {
      flushing = false;
      const waiting = (await entries()).some((e) => e.state === "queued");
      if (!waiting) document.getElementById("notice").hidden = true;
      await render();
    }
  }

  async function render() {
    const list = (await entries()).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    document.getElementById("queue").replaceChildren(
      ...list.map((e) =>
        el(
          "li",
          { class: `entry ${e.state}`, "data-key": e.idempotencyKey, "data-state": e.state },
          el("b", {}, e.summary),
          " — ",
          el(
            "span",
            { class: "outcome" },
            e.state === "accepted" ? t("accepted", { no: e.orderNo }) : e.state === "refused" ? t("refused", { why: e.reason }) : t("queued")
          )
        )
      )
    );
    const network = document.getElementById("network");
    network.textContent = t(navigator.onLine ? "online" : "offline");
    network.className = `badge ${navigator.onLine ? "" : "warn"}`;
  }

  // --- the form ---
  function choice(values, attrs, placeholder) {
    const select = el("select", attrs || {}, el("option", { value: "" }, placeholder ? `— ${placeholder} —` : ""));
    for (const v of values) select.append(el("option", { value: v }, v));
    return select;
  }

  function lineRow() {
    const o = reference.options;
    const row = el(
      "div",
      { class: "line" },
      (o.productModels || []).length
        ? choice(o.productModels, { class: "model", required: "" }, t("product"))
        : el("input", { class: "model", required: "", maxlength: "64", placeholder: t("product") }),
      el("input", { class: "qty", type: "number", min: "1", max: "10000000", required: "", placeholder: t("quantity") }),
      choice(o.colours || [], { class: "colour", "aria-label": t("colour") }, t("colour")),
      choice(o.surfaceTreatments || [], { class: "finish", "aria-label": t("finish") }, t("finish")),
      choice(o.packaging || [], { class: "packaging", "aria-label": t("packaging") }, t("packaging")),
      el("button", { type: "button", class: "link remove" }, t("removeLine"))
    );
    row.querySelector(".remove").addEventListener("click", () => row.remove());
    return row;
  }

  function customField(f) {
    const attrs = { "data-key": f.key };
    if (f.required) attrs.required = "";
    let input;
    if (f.type === "choice") input = choice(f.choices || [], attrs);
    else if (f.type === "boolean") input = el("input", { "data-key": f.key, type: "checkbox" });
    else input = el("input", { ...attrs, type: { integer: "number", decimal: "number", date: "date" }[f.type] || "text", step: f.type === "decimal" ? "any" : "1" });
    return el("label", {}, el("span", {}, f.label), input);
  }

  function buildForm() {
    const { options, customers } = reference;
    const select = document.getElementById("customer");
    select.replaceChildren(el("option", { value: "" }, ""), ...customers.map((c) => el("option", { value: c.customerId }, `${c.name} (${c.code})`)));
    document.getElementById("lines").append(lineRow());
    document.getElementById("custom").replaceChildren(...(options.customFields || []).map(customField));
  }

  async function photo() {
    const file = document.getElementById("photo").files[0];
    if (!file) return [];
    if (!["image/jpeg", "image/png"].includes(file.type) || file.size > PHOTO_MAX) throw new Error(t("photoType"));
    const data = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
    return [{ filename: file.name.slice(0, 120) || "contract", contentType: file.type, data }];
  }

  async function submit(event) {
    event.preventDefault();
    const error = document.getElementById("form-error");
    error.hidden = true;
    try {
      const [year, month, day] = document.getElementById("due").value.split("-").map(Number);
      const lines = [...document.querySelectorAll("#lines .line")].map((row) => ({
        productModel: row.querySelector(".model").value,
        quantity: Number(row.querySelector(".qty").value),
        colour: row.querySelector(".colour").value,
        surfaceTreatment: row.querySelector(".finish").value,
        packaging: row.querySelector(".packaging").value,
      }));
      const customFields = [...document.querySelectorAll("#custom [data-key]")]
        .map((input) => ({ key: input.dataset.key, value: input.type === "checkbox" ? String(input.checked) : input.value }))
        .filter((f) => f.value !== "");
      const request = {
        idempotencyKey: crypto.randomUUID(),
        customerId: document.getElementById("customer").value,
        dueDate: { year, month, day },
        lines,
        priority: document.getElementById("priority").value,
        deliveryAddress: document.getElementById("address").value.trim(),
        customFields,
        attachments: await photo(),
        signedAt: new Date().toISOString(),
      };
      const customer = reference.customers.find((c) => c.customerId === request.customerId);
      const summary = `${customer ? customer.name : ""} · ${lines.map((l) => `${l.productModel} × ${l.quantity}`).join(", ")}`;
      await put({ idempotencyKey: request.idempotencyKey, request, summary, state: "queued", createdAt: new Date().toISOString() });
      document.getElementById("order").reset();
      document.getElementById("lines").replaceChildren(el("legend", { "data-t": "lines" }, t("lines")), lineRow());
      if (!navigator.onLine) {
        const notice = document.getElementById("notice");
        notice.textContent = t("savedOffline");
        notice.hidden = false;
      }
      await render();
      await flush();
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
    }
  }

  async function loadReference() {
    try {
      const [{ options }, { customers }] = await Promise.all([
        OMS.rpc("/oms.order.v1.OrderService/GetTenantOptions", {}),
        OMS.rpc("/oms.customer.v1.CustomerService/ListCustomers", { pageSize: 500, active: true }),
      ]);
      reference = { options, customers: customers || [] };
      localStorage.setItem(CACHE_KEY, JSON.stringify(reference));
    } catch (problem) {
      if (problem.status) throw problem;
      reference = JSON.parse(localStorage.getItem(CACHE_KEY) || "null"); // offline: the last copy
    }
  }

  (async () => {
    OMS.translate();
    OMS.languageToggle(document.getElementById("lang"), render);
    document.getElementById("signout").addEventListener("click", OMS.signOut);
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
    await loadReference();
    if (!reference) {
      const notice = document.getElementById("notice");
      notice.textContent = t("needOnline");
      notice.hidden = false;
      return;
    }
    buildForm();
    document.getElementById("add-line").addEventListener("click", () => document.getElementById("lines").append(lineRow()));
    document.getElementById("order").addEventListener("submit", submit);
    window.addEventListener("online", flush);
    window.addEventListener("offline", render);
    setInterval(flush, 15000);
    await render();
    await flush();
  })();
})();
