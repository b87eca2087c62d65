// The big screen: open work orders by stage, each workshop's name on its cards, overdue work red
// and work due within the at-risk window (48 h) amber; refreshed every few seconds without a
// reload, readable from across the room.
"use strict";

(() => {
  const { t, el, day } = OMS;
  const STAGES = ["STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS", "STAGE_QC_PASSED", "STAGE_READY_TO_SHIP"];
  const REFRESH_MS = 3000;
  let workshops = {};
  let last = null;

  function card(wo, risk) {
    const models = [...new Set((wo.lines || []).map((x) => x.productModel))].join(", ");
    const quantity = (wo.lines || []).reduce((sum, x) => sum + (x.quantity || 0), 0);
    return el(
      "article",
      { class: `wo ${risk[wo.workOrderNo] || ""}`, "data-wo": wo.workOrderNo },
      el("div", { class: "wo-no" }, wo.workOrderNo),
      el("div", { class: "wo-what" }, `${models} × ${quantity}`),
      el("div", { class: "wo-where" }, workshops[wo.workshop] || wo.workshop),
      el("div", { class: "wo-due" }, `${t("due")} ${day(wo.dueDate)}`),
      risk[wo.workOrderNo] ? el("div", { class: "wo-flag" }, t(risk[wo.workOrderNo] === "overdue" ? "overdue" : "atRisk")) : null
    );
  }

  function render() {
    if (!last) return;
    const risk = {};
    for (const wo of last.board.atRisk || []) risk[wo.workOrderNo] = "at-risk";
    for (const wo of last.board.overdue || []) risk[wo.workOrderNo] = "overdue";
    document.getElementById("columns").replaceChildren(
      ...STAGES.map((stage, i) =>
        el(
          "section",
          { class: "column", "data-stage": stage },
          el("h2", {}, t(stage), el("span", { class: "count" }, String(last.columns[i].length))),
          el("div", { class: "cards" }, last.columns[i].map((wo) => card(wo, risk)))
        )
      )
    );
    document.getElementById("overdue-total").textContent = last.board.overdueTotal || 0;
    document.getElementById("at-risk-total").textContent = last.board.atRiskTotal || 0;
    document.getElementById("completed-total").textContent = last.board.completedTodayTotal || 0;
    document.getElementById("completed").replaceChildren(
      ...(last.board.completedToday || []).map((c) =>
        el(
          "li",
          { "data-wo": c.workOrderNo },
          `${new Date(c.completedAt).toLocaleTimeString()} · ${c.workOrderNo} · ${workshops[c.workshop] || c.workshop}` +
            (c.goodQuantity ? ` · ${t("good")} ${c.goodQuantity}` : "")
        )
      )
    );
    document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  }

  async function load() {
    const [board, ...columns] = await Promise.all([
      OMS.rpc("/oms.production.v1.ProductionService/GetBoard", { limit: 200 }),
      ...STAGES.map((stage) => OMS.rpc("/oms.production.v1.ProductionService/ListWorkOrders", { stage, pageSize: 200 })),
    ]);
    last = { board, columns: columns.map((c) => (c.workOrders || []).filter((wo) => !wo.cancelled)) };
    render();
  }

  function tick() {
    document.getElementById("clock").textContent = new Date().toLocaleTimeString();
  }

  (async () => {
    OMS.translate();
    OMS.languageToggle(document.getElementById("lang"), render);
    document.getElementById("signout").addEventListener("click", OMS.signOut);
    setInterval(tick, 1000);
    tick();
    const { options } = await OMS.rpc("/oms.order.v1.OrderService/GetTenantOptions", {});
    for (const w of options.workshops || []) workshops[w.code] = w.name;
    document.getElementById("line").textContent = `${options.nameZh} ${options.nameEn}`;
    await load();
    setInterval(() => load().catch(() => {}), REFRESH_MS);
  })();
})();
