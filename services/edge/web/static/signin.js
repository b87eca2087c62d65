"use strict";

(async () => {
  OMS.translate();
  OMS.languageToggle(document.getElementById("lang"));
  const select = document.getElementById("tenant");
  const tenants = await (await fetch("/auth/tenants")).json();
  for (const tenant of tenants) select.append(OMS.el("option", { value: tenant.id }, tenant.name));
  const remembered = localStorage.getItem("oms-tenant");
  if (remembered && tenants.some((x) => x.id === remembered)) select.value = remembered;

  const error = document.getElementById("error");
  document.getElementById("signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = {
      tenantId: select.value,
      user: document.getElementById("user").value.trim(),
      password: document.getElementById("password").value,
    };
    const answer = await fetch("/auth/sign-in", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!answer.ok) {
      error.textContent = OMS.t(answer.status === 401 ? "wrong" : answer.status === 429 ? "wait" : "failed");
      error.hidden = false;
      return;
    }
    localStorage.setItem("oms-tenant", body.tenantId);
    const { user } = await answer.json();
    const next = new URLSearchParams(location.search).get("next");
    const roles = user.roles || [];
    const home = roles.includes("customer")
      ? "/portal"
      : roles.includes("approver")
        ? "/desk"
        : roles.includes("sales") && !roles.includes("manager")
          ? "/sales"
          : "/board";
    // only a page of this site, never an address someone put in the link
    location.assign(["/portal", "/board", "/sales", "/desk"].includes(next) ? next : home);
  });
})();
