"""gRPC API of the identity service: translate, call the handler, translate back."""

from __future__ import annotations

from oms.identity.v1 import identity_pb2 as pb
from oms.identity.v1 import identity_pb2_grpc
from services.chassis import identity
from services.chassis.fields import timestamp_of
from services.identity.domain.model import User
from services.identity.service_layer import handlers
from services.identity.service_layer.handlers import Deps, Issued


class IdentityApi(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, deps: Deps):
        self._deps = deps

    # --- open: the request is the proof ---

    def SignIn(self, request: pb.SignInRequest, context) -> pb.SignInResponse:
        cmd = handlers.SignIn(request.tenant_id, request.user, request.password, request.client)
        return pb.SignInResponse(session=session_to_proto(handlers.sign_in(cmd, self._deps)))

    def RefreshSession(self, request: pb.RefreshSessionRequest, context) -> pb.RefreshSessionResponse:
        issued = handlers.refresh(request.refresh_token, self._deps)
        return pb.RefreshSessionResponse(session=session_to_proto(issued))

    def SignOut(self, request: pb.SignOutRequest, context) -> pb.SignOutResponse:
        handlers.sign_out(request.refresh_token, self._deps)
        return pb.SignOutResponse()

    # --- the signed-in user ---

    def ChangePassword(self, request: pb.ChangePasswordRequest, context) -> pb.ChangePasswordResponse:
        handlers.change_password(
            identity.current(), request.current_password, request.new_password, self._deps
        )
        return pb.ChangePasswordResponse()

    def WhoAmI(self, request: pb.WhoAmIRequest, context) -> pb.WhoAmIResponse:
        return pb.WhoAmIResponse(user=user_to_proto(handlers.who_am_i(identity.current(), self._deps)))

    # --- administrators ---

    def CreateUser(self, request: pb.CreateUserRequest, context) -> pb.CreateUserResponse:
        cmd = handlers.CreateUser(
            user=request.user,
            display_name=request.display_name,
            roles=list(request.roles),
            customer_code=request.customer_code,
            password=request.password,
        )
        return pb.CreateUserResponse(
            user=user_to_proto(handlers.create_user(cmd, identity.current(), self._deps))
        )

    def ListUsers(self, request: pb.ListUsersRequest, context) -> pb.ListUsersResponse:
        found = handlers.list_users(identity.current(), request.query, request.customer_code, self._deps)
        return pb.ListUsersResponse(users=[user_to_proto(u) for u in found])

    def UpdateUser(self, request: pb.UpdateUserRequest, context) -> pb.UpdateUserResponse:
        cmd = handlers.UpdateUser(
            user=request.user,
            display_name=request.display_name,
            roles=list(request.roles),
            disabled=request.disabled,
            expected_version=request.expected_version,
        )
        return pb.UpdateUserResponse(
            user=user_to_proto(handlers.update_user(cmd, identity.current(), self._deps))
        )

    def ResetPassword(self, request: pb.ResetPasswordRequest, context) -> pb.ResetPasswordResponse:
        user = handlers.reset_password(request.user, request.password, identity.current(), self._deps)
        return pb.ResetPasswordResponse(user=user_to_proto(user))


def session_to_proto(issued: Issued) -> pb.Session:
    return pb.Session(
        access_token=issued.access_token,
        access_expires_at=timestamp_of(issued.access_expires_at),
        refresh_token=issued.refresh_token,
        session_expires_at=timestamp_of(issued.session_expires_at),
        user=user_to_proto(issued.user),
    )


def user_to_proto(u: User) -> pb.User:
    return pb.User(
        user_id=u.user_id,
        user=u.user,
        display_name=u.display_name,
        roles=sorted(u.roles),
        customer_id=u.customer_id,
        customer_code=u.customer_code,
        disabled=u.disabled,
        version=u.version,
        created_at=timestamp_of(u.created_at),
        created_by=u.created_by,
        updated_at=timestamp_of(u.updated_at),
        updated_by=u.updated_by,
        last_sign_in_at=timestamp_of(u.last_sign_in_at),
    )
