// Shared by every page: the language (中文 first, English available), calls to the HTTP/JSON API
// with the session cookies and the CSRF header, and a refresh of the access token when it lapses.
"use strict";

const OMS = (() => {
  const TEXT = {
    title: ["中枢订单管理", "Zhongshu OMS"],
    signIn: ["登录", "Sign in"],
    signOut: ["退出", "Sign out"],
    tenant: ["业务线", "Business line"],
    user: ["用户名", "User name"],
    password: ["密码", "Password"],
    wrong: ["用户名或密码错误", "Wrong user name or password"],
    wait: ["登录失败次数过多，请稍后再试", "Too many failed sign-ins; try again later"],
    failed: ["暂时无法登录，请稍后再试", "Cannot sign in right now; try again"],
    portal: ["客户门户", "Customer portal"],
    board: ["生产看板", "Production board"],
    orders: ["我的订单", "My orders"],
    noOrders: ["暂无订单", "No orders yet"],
    order: ["订单号", "Order"],
    state: ["状态", "State"],
    due: ["交期", "Due"],
    product: ["产品", "Product"],
    colour: ["颜色", "Colour"],
    finish: ["表面处理", "Finish"],
    packaging: ["包装", "Packaging"],
    quantity: ["数量", "Quantity"],
    unitPrice: ["单价 (元)", "Unit price (CNY)"],
    total: ["合计 (元)", "Total (CNY)"],
    batches: ["分批交付", "Delivery batches"],
    batch: ["第 {n} 批", "Batch {n}"],
    changePending: ["变更审核中", "Change under review"],
    pricesHidden: ["价格不对本账号显示", "Prices are not shown to this account"],
    tier: ["客户等级", "Tier"],
    updated: ["更新于", "Updated"],
    atRisk: ["交期风险", "At risk"],
    completedToday: ["今日完工", "Completed today"],
    good: ["合格", "good"],
    overdue: ["已逾期", "Overdue"],
    workOrders: ["工单", "work orders"],
    noWork: ["—", "—"],
    ORDER_STATE_DRAFT: ["草稿", "Draft"],
    ORDER_STATE_PENDING_APPROVAL: ["待审批", "Awaiting approval"],
    ORDER_STATE_APPROVED: ["待排产", "To schedule"],
    ORDER_STATE_IN_PRODUCTION: ["加工中", "In process"],
    ORDER_STATE_QC_PASSED: ["质检完成", "QC passed"],
    ORDER_STATE_READY_TO_SHIP: ["待发货", "Ready to ship"],
    ORDER_STATE_SHIPPED: ["已发货", "Shipped"],
    ORDER_STATE_CLOSED: ["已完成", "Closed"],
    ORDER_STATE_CANCELLED: ["已取消", "Cancelled"],
    ORDER_STATE_PENDING_CHANGE: ["变更待审", "Change pending"],
    salesForm: ["销售下单", "Sales order"],
    customer: ["客户", "Customer"],
    priority: ["优先级", "Priority"],
    PRIORITY_NORMAL: ["常规", "Normal"],
    PRIORITY_HIGH: ["加急", "Urgent"],
    lines: ["订单行", "Lines"],
    addLine: ["+ 添加一行", "+ Add a line"],
    removeLine: ["删除", "Remove"],
    address: ["送货地址", "Delivery address"],
    contract: ["合同照片（已签字）", "Photo of the signed contract"],
    submitOrder: ["提交订单", "Submit order"],
    submitted: ["已填订单", "Orders filled in"],
    online: ["在线", "Online"],
    offline: ["离线", "Offline"],
    queued: ["待提交：联网后自动提交", "Waiting: sent when back online"],
    accepted: ["已接单，订单号 {no}", "Accepted as order {no}"],
    refused: ["未被接受：{why}", "Not accepted: {why}"],
    needOnline: ["首次使用请联网打开本页（需下载客户与选项）", "Open this page online once first (customers and options)"],
    photoType: ["照片须为 JPEG 或 PNG，且不超过 5 MB", "The photo must be JPEG or PNG, at most 5 MB"],
    savedOffline: ["已保存在本机，联网后自动提交", "Saved on this phone; sent when back online"],
    desk: ["接单台", "Order desk"],
    search: ["查询", "Search"],
    searchHint: ["订单号、客户…", "Order number, customer…"],
    allStates: ["全部状态", "Every state"],
    reviewQueue: ["待审核的来单", "Incoming orders to review"],
    source: ["来源", "Source"],
    reasons: ["原因", "Reasons"],
    opened: ["时间", "Opened"],
    approve: ["审批通过", "Approve"],
    revision: ["版本", "Revision"],
    revisions: ["版本记录", "Revisions"],
    audit: ["操作记录", "Audit trail"],
    changes: ["变更申请", "Change requests"],
    changeRequest: ["变更申请", "Change request"],
    impact: ["影响评估", "Impact"],
    workOrder: ["工单", "Work order"],
    stage: ["工序阶段", "Stage"],
    touched: ["受影响", "Touched"],
    material: ["物料", "Material"],
    available: ["可用", "Available"],
    field: ["项目", "Field"],
    before: ["变更前", "Before"],
    after: ["变更后", "After"],
    decidedBy: ["处理人", "Decided by"],
    note: ["意见（驳回时必填）", "Note (required to reject)"],
    approveChange: ["批准变更", "Approve change"],
    rejectChange: ["驳回变更", "Reject change"],
    CHANGE_STATE_PENDING: ["待审", "Pending"],
    CHANGE_STATE_APPROVED: ["已批准", "Approved"],
    CHANGE_STATE_REJECTED: ["已驳回", "Rejected"],
    showChanges: ["变更记录", "Changes"],
    noChanges: ["没有变更", "No changes"],
    afterSales: ["售后申请", "After-sales request"],
    afterSalesList: ["售后记录", "After-sales requests"],
    kind: ["类型", "Kind"],
    describe: ["问题描述", "What is wrong"],
    send: ["提交", "Send"],
    cancel: ["取消", "Cancel"],
    sentAfterSales: ["已提交，销售会尽快联系您", "Sent: your sales contact will be in touch"],
    AFTER_SALES_KIND_QUALITY: ["质量问题", "Quality"],
    AFTER_SALES_KIND_SHORTAGE: ["数量短缺", "Shortage"],
    AFTER_SALES_KIND_DAMAGE: ["运输损坏", "Damage in transport"],
    AFTER_SALES_KIND_DELIVERY: ["交期问题", "Delivery time"],
    AFTER_SALES_KIND_OTHER: ["其他", "Other"],
    STAGE_TO_SCHEDULE: ["待排产", "To schedule"],
    STAGE_IN_PROCESS: ["加工中", "In process"],
    STAGE_QC_PASSED: ["质检完成", "QC passed"],
    STAGE_READY_TO_SHIP: ["待发货", "Ready to ship"],
    STAGE_SHIPPED: ["已发货", "Shipped"],
  };

  const lang = () => (localStorage.getItem("oms-lang") === "en" ? 1 : 0);

  function t(key, values) {
    const entry = TEXT[key];
    let text = entry ? entry[lang()] : key;
    for (const [k, v] of Object.entries(values || {})) text = text.replace(`{${k}}`, v);
    return text;
  }

  function translate(root) {
    (root || document).querySelectorAll("[data-t]").forEach((el) => {
      el.textContent = t(el.dataset.t);
    });
    document.documentElement.lang = lang() ? "en" : "zh-CN";
  }

  function languageToggle(button, rerender) {
    const label = () => (button.textContent = lang() ? "中文" : "English");
    label();
    button.addEventListener("click", () => {
      localStorage.setItem("oms-lang", lang() ? "zh" : "en");
      label();
      translate();
      if (rerender) rerender();
    });
  }

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)oms_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function toSignIn() {
    location.assign("/?next=" + encodeURIComponent(location.pathname));
  }

  async function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf() },
      body: JSON.stringify(body || {}),
    });
  }

  // One RPC; an expired access token is refreshed once, a lost session goes to sign-in.
  async function rpc(path, body) {
    let answer = await post(path, body);
    if (answer.status === 401) {
      const renewed = await post("/auth/refresh", {});
      if (!renewed.ok) {
        toSignIn();
        return new Promise(() => {}); // the page is leaving: nothing after this call runs
      }
      answer = await post(path, body);
    }
    const data = await answer.json();
    if (!answer.ok) {
      // the fields to fix, as the service named them (google.rpc.BadRequest)
      const fields = (data.details || [])
        .flatMap((d) => (d.debug && d.debug.fieldViolations) || [])
        .map((v) => `${v.field}: ${v.description}`);
      const error = new Error([data.message || answer.statusText, ...fields].join("；"));
      error.status = answer.status;
      throw error;
    }
    return data;
  }

  async function signOut() {
    await post("/auth/sign-out", {});
    location.assign("/");
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const day = (d) => (d && d.year ? `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}` : "");
  const yuan = (fen) => (Number(fen || 0) / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2 });

  return { t, translate, languageToggle, rpc, signOut, el, day, yuan, toSignIn };
})();
