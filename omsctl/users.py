"""The user directory in omsctl (用户管理): create staff and customer-portal accounts, list them,
change roles or disable one, reset a password. Needs the admin role (omsctl's default). A
password is read from standard input (`--password-stdin`, for scripts) or asked for without
echo, never taken from the command line (it would stay in the shell's history and `ps`)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from oms.identity.v1 import identity_pb2
from omsctl import display as d
from omsctl.client import Client, UsageError
from omsctl.output import as_json, emit

USER_HEADERS = [
    "用户 User",
    "姓名 Name",
    "角色 Roles",
    "客户 Customer",
    "状态 State",
    "上次登录 Last sign-in",
]


def register(add: Callable[..., argparse.ArgumentParser], paging: Callable[..., None]) -> None:
    sp = add("users", cmd_users, "the business line's users and portal accounts (用户列表)")
    sp.add_argument("--search", default="", help="text in the user name or display name")
    sp.add_argument("--customer", default="", help="portal accounts of this customer code")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("user-create", cmd_user_create, "create a staff user or a customer-portal account (新建用户)")
    sp.add_argument("name", help="the name signed in with, e.g. 陈丽")
    sp.add_argument("user_roles", metavar="roles", help="e.g. sales,approver; customer for a portal account")
    sp.add_argument("--customer", default="", help="a portal account's customer code, e.g. MIDEA-SD")
    sp.add_argument("--display-name", default="")
    _password_options(sp)
    sp = add(
        "user-update", cmd_user_update, "change a user's roles or name, disable or enable them (修改用户)"
    )
    sp.add_argument("name")
    sp.add_argument("--set-roles", dest="user_roles", default="", help="the new roles, e.g. sales,approver")
    sp.add_argument("--display-name", default="")
    state = sp.add_mutually_exclusive_group()
    state.add_argument("--disable", action="store_true", help="no more sign-ins; every session ends")
    state.add_argument("--enable", action="store_true")
    sp.add_argument("--json", action="store_true")
    sp = add(
        "user-reset-password", cmd_user_reset_password, "set a new password; every session ends (重置密码)"
    )
    sp.add_argument("name")
    _password_options(sp)


def _password_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")


def read_password(a) -> str:
    if a.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("give the password on standard input with --password-stdin")
    first = getpass.getpass("密码 password: ")
    if getpass.getpass("再输一次 again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def cmd_users(c: Client, a) -> int:
    reply = c.call(
        "identity", "ListUsers", identity_pb2.ListUsersRequest(query=a.search, customer_code=a.customer)
    )
    if a.json:
        as_json(list(reply.users))
        return 0
    emit(d.table(USER_HEADERS, [_row(c, u) for u in reply.users]))
    return 0


def _row(c: Client, u: identity_pb2.User) -> list[str]:
    return [
        u.user,
        u.display_name,
        ", ".join(u.roles),
        u.customer_code or d.NONE,
        "已停用 disabled" if u.disabled else "启用 active",
        d.local_time(u.last_sign_in_at, c.zone) if u.HasField("last_sign_in_at") else d.NONE,
    ]


def _roles(text: str) -> list[str]:
    return [r.strip() for r in text.split(",") if r.strip()]


def cmd_user_create(c: Client, a) -> int:
    request = identity_pb2.CreateUserRequest(
        user=a.name,
        display_name=a.display_name,
        roles=_roles(a.user_roles),
        customer_code=a.customer,
        password=read_password(a),
    )
    reply = c.call("identity", "CreateUser", request)
    return _show(c, a, reply.user, "已创建 created")


def cmd_user_update(c: Client, a) -> int:
    current = [
        u
        for u in c.call("identity", "ListUsers", identity_pb2.ListUsersRequest(query=a.name)).users
        if u.user == a.name
    ]
    if not current:
        raise UsageError(f"no user {a.name!r}")
    user = current[0]
    request = identity_pb2.UpdateUserRequest(
        user=user.user,
        display_name=a.display_name or user.display_name,
        roles=_roles(a.user_roles) or list(user.roles),
        disabled=True if a.disable else False if a.enable else user.disabled,
        expected_version=user.version,
    )
    return _show(c, a, c.call("identity", "UpdateUser", request).user, "已修改 updated")


def cmd_user_reset_password(c: Client, a) -> int:
    request = identity_pb2.ResetPasswordRequest(user=a.name, password=read_password(a))
    return _show(c, a, c.call("identity", "ResetPassword", request).user, "密码已重置 password reset")


def _show(c: Client, a, user: identity_pb2.User, what: str) -> int:
    if a.json:
        as_json(user)
        return 0
    emit([f"{what}: {user.user}", *d.table(USER_HEADERS, [_row(c, user)])])
    return 0
