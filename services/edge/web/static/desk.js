// The order desk: find orders, read one whole (lines, batches, revisions with their diffs, the
// audit trail), approve it, decide a change request after reading its impact on the shop floor,
// and see what came in from the shops and sheets waiting for review.
"use strict";

(() => {
  const { t, el, day, yuan } = OMS;
  const ORDERS = "/oms.order.v1.OrderService";
  const STATES = ["", "ORDER_STATE_PENDING_APPROVAL", "ORDER_STATE_PENDING_CHANGE", "ORDER_STATE_APPROVED", "ORDER_STATE_IN_PRODUCTION", "ORDER_STATE_QC_PASSED", "ORDER_STATE_READY_TO_SHIP", "ORDER_STATE_SHIPPED", "ORDER_STATE_CANCELLED"];
  let customers = {};
  let selected = null;

  function say(text) {
    const box = document.getElementById("message");
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function act(work) {
    say("");
    try {
      await work();
    } catch (problem) {
      say(problem.message);
    }
  }

  async function search(event) {
    if (event) event.preventDefault();
    const text = document.getElementById("text").value.trim();
    const state = document.getElementById("state").value;
    const body = { pageSize: 100, text };
    if (state) body.state = state;
    const { orders } = await OMS.rpc(`${ORDERS}/ListOrders`, body);
    document.querySelector("#orders tbody").replaceChildren(
      ...(orders || []).map((o) => {
        const row = el("tr", { class: "clickable", "data-order": o.orderNo }, el("td", {}, o.orderNo), el("td", {}, customers[o.customerId] || ""), el("td", {}, t(o.state)), el("td", {}, day(o.dueDate)));
        row.addEventListener("click", () => act(() => show(o.orderId)));
        return row;
      })
    );
  }

  async function reviewQueue() {
    try {
      const { items } = await OMS.rpc("/oms.ingest.v1.IngestService/ListReviewItems", { pageSize: 50 });
      document.querySelector("#review tbody").replaceChildren(
        ...(items || []).map((i) =>
          el("tr", {}, el("td", {}, [i.source, i.platform, i.shop].filter(Boolean).join(" · ")), el("td", {}, (i.reasons || []).map((r) => r.message).join("；")), el("td", {}, new Date(i.openedAt).toLocaleString()))
        )
      );
    } catch (problem) {
      if (problem.status !== 403) throw problem; // not everyone at the desk reviews
    }
  }

  function table(head, rows) {
    return el("table", { class: "lines" }, el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))), el("tbody", {}, rows));
  }

  function diffTable(diff) {
    return table([t("field"), t("before"), t("after")], (diff || []).map((d) => el("tr", {}, el("td", {}, d.label || d.path), el("td", {}, d.before), el("td", { class: "after" }, d.after))));
  }

  function changeCard(order, change) {
    const impact = change.impact || {};
    const card = el(
      "div",
      { class: "change", "data-change": change.changeId, "data-state": change.state },
      el("h3", {}, `${t("changeRequest")} · ${t(change.state)}`),
      el("p", {}, `${change.requestedBy} · ${new Date(change.requestedAt).toLocaleString()} · ${change.reason || ""}`),
      diffTable(change.diff),
      (impact.workOrders || []).length
        ? el("div", {}, el("h4", {}, t("impact")), table([t("workOrder"), t("stage"), t("quantity"), t("touched")], impact.workOrders.map((w) => el("tr", {}, el("td", {}, w.workOrderNo), el("td", {}, t(w.stage)), el("td", { class: "num" }, w.quantity), el("td", {}, w.touched ? "✔" : "")))))
        : null,
      (impact.materials || []).length
        ? table([t("material"), t("before"), t("after"), t("available")], impact.materials.map((m) => el("tr", {}, el("td", {}, m.material), el("td", { class: "num" }, `${m.neededBefore || 0} ${m.unit}`), el("td", { class: "num" }, `${m.neededAfter || 0} ${m.unit}`), el("td", { class: "num" }, `${m.available ?? ""}`))))
        : null,
      change.decidedBy ? el("p", { class: "muted" }, `${t("decidedBy")} ${change.decidedBy} · ${change.decisionNote || ""}`) : null
    );
    if (change.state === "CHANGE_STATE_PENDING") {
      const note = el("input", { class: "note", maxlength: "200", placeholder: t("note") });
      const approve = el("button", { type: "button", class: "approve-change" }, t("approveChange"));
      const reject = el("button", { type: "button", class: "reject-change danger" }, t("rejectChange"));
      const body = () => ({ orderId: order.orderId, changeId: change.changeId, expectedVersion: order.version, note: note.value.trim() });
      approve.addEventListener("click", () => act(async () => { await OMS.rpc(`${ORDERS}/ApproveOrderChange`, body()); await show(order.orderId); }));
      reject.addEventListener("click", () => act(async () => { await OMS.rpc(`${ORDERS}/RejectOrderChange`, body()); await show(order.orderId); }));
      card.append(el("div", { class: "bar" }, note, approve, reject));
    }
    return card;
  }

  async function show(orderId) {
    const [{ order }, { changes }, { revisions }, { entries }] = await Promise.all([
      OMS.rpc(`${ORDERS}/GetOrder`, { orderId }),
      OMS.rpc(`${ORDERS}/ListOrderChanges`, { orderId }),
      OMS.rpc(`${ORDERS}/ListOrderRevisions`, { orderId }),
      OMS.rpc(`${ORDERS}/ListOrderAudit`, { orderId, pageSize: 200 }),
    ]);
    selected = orderId;
    const detail = document.getElementById("detail");
    const actions = el("div", { class: "bar" });
    if (order.state === "ORDER_STATE_PENDING_APPROVAL") {
      const approve = el("button", { type: "button", id: "approve" }, t("approve"));
      approve.addEventListener("click", () => act(async () => { await OMS.rpc(`${ORDERS}/ApproveOrder`, { orderId, expectedVersion: order.version }); await show(orderId); await search(); }));
      actions.append(approve);
    }
    detail.replaceChildren(
      el("header", { class: "bar" }, el("h2", {}, `${t("order")} ${order.orderNo}`), el("span", { class: "badge state", id: "detail-state" }, t(order.state)), el("span", { class: "muted" }, `v${order.version} · ${t("revision")} ${order.revision}`)),
      el("p", {}, `${customers[order.customerId] || ""} · ${t("due")} ${day(order.dueDate)}${order.pricesWithheld ? "" : ` · ${t("total")} ${yuan(order.totalFen)}`}`),
      actions,
      table([t("product"), t("colour"), t("finish"), t("quantity")], (order.lines || []).map((l) => el("tr", {}, el("td", {}, l.productModel), el("td", {}, l.colour), el("td", {}, l.surfaceTreatment), el("td", { class: "num" }, l.quantity)))),
      el("h3", {}, t("changes")),
      ...((changes || []).length ? changes.map((c) => changeCard(order, c)) : [el("p", { class: "muted" }, t("noWork"))]),
      el("h3", {}, t("revisions")),
      el("ol", { class: "revisions" }, (revisions || []).map((r) => el("li", {}, `${t("revision")} ${r.revision}${r.current ? " ✔" : ""} ${r.reason || ""} ${r.approvedBy || ""}`, (r.diff || []).length ? diffTable(r.diff) : null))),
      el("h3", {}, t("audit")),
      el("ol", { class: "audit" }, (entries || []).map((e) => el("li", {}, `${new Date(e.at).toLocaleString()} · ${e.actor} · ${e.action}${e.toState ? ` → ${t(e.toState)}` : ""}${e.reason ? ` · ${e.reason}` : ""}`)))
    );
    detail.hidden = false;
  }

  (async () => {
    OMS.translate();
    OMS.languageToggle(document.getElementById("lang"), () => act(async () => { await search(); if (selected) await show(selected); }));
    document.getElementById("signout").addEventListener("click", OMS.signOut);
    document.getElementById("text").placeholder = t("searchHint");
    document.getElementById("state").replaceChildren(...STATES.map((s) => el("option", { value: s }, s ? t(s) : t("allStates"))));
    const { user } = await OMS.rpc("/oms.identity.v1.IdentityService/WhoAmI", {});
    document.getElementById("who").textContent = user.displayName || user.user;
    const { customers: list } = await OMS.rpc("/oms.customer.v1.CustomerService/ListCustomers", { pageSize: 500 });
    for (const c of list || []) customers[c.customerId] = `${c.name} (${c.code})`;
    document.getElementById("search").addEventListener("submit", (e) => act(() => search(e)));
    await act(search);
    await act(reviewQueue);
  })();
})();
