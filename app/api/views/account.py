"""API routes of the foundation: who am I, the team, invitations, and the OpenAPI document."""
from flask import g, jsonify, render_template, url_for
from sqlalchemy import func, or_

from app.api import bp, docs_bp
from app.api.base import (
    OPERATIONS,
    api_route,
    authenticate_request,
    body_strings,
    handle_error,
    json_body,
    list_response,
)
from app.api.openapi import SCHEMAS, build_document
from app.auth import services as auth_services
from app.auth.models import Membership, User
from app.core.db import like_pattern
from app.core.tenancy import current_account, scoped

bp.before_request(authenticate_request)
bp.register_error_handler(Exception, handle_error)


def serialize_account(account):
    return {"id": str(account.id), "name": account.name, "timezone": account.timezone,
            "currency": account.currency, "created_at": account.created_at.isoformat()}


def serialize_member(membership: Membership):
    user = membership.user
    return {"id": str(membership.id), "user_id": str(user.id), "email": user.email, "name": user.name,
            "role": membership.role, "joined_at": membership.created_at.isoformat()}


def serialize_invitation(invitation):
    return {"id": str(invitation.id), "email": invitation.email, "role": invitation.role,
            "status": invitation.status, "expires_at": invitation.expires_at.isoformat(),
            "created_at": invitation.created_at.isoformat()}


@api_route("/me", summary="The API key's workspace and user",
           responses={200: {"description": "The key, its account and its user.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Me"}}}}})
def me():
    key, user = g.api_key, g.actor
    return jsonify({
        "account": serialize_account(current_account()),
        "user": {"id": str(user.id), "email": user.email, "name": user.name, "role": g.membership.role},
        "api_key": {"id": str(key.id), "name": key.name, "prefix": key.prefix,
                    "created_at": key.created_at.isoformat()},
    })


@api_route("/members", summary="List the workspace's members", paginated=True, tag="Team",
           responses={200: {"description": "A page of members.", "content": {"application/json": {
               "schema": {"$ref": "#/components/schemas/MemberList"}}}}})
def list_members():
    def search(query, q):
        like = like_pattern(q)
        return query.where(or_(func.lower(User.email).like(like, escape="\\"),
                               func.lower(User.name).like(like, escape="\\")))

    query = scoped(Membership).join(User).order_by(User.email)
    return jsonify(list_response(query, serialize_member, search))


@api_route("/invitations", methods=("POST",), summary="Invite someone to the workspace by e-mail",
           role="admin", tag="Team", body={"$ref": "#/components/schemas/InvitationCreate"},
           responses={201: {"description": "The invitation (an e-mail is sent).", "content": {
               "application/json": {"schema": {"$ref": "#/components/schemas/Invitation"}}}},
               409: {"description": "Already a member.", "content": {"application/json": {
                   "schema": {"$ref": "#/components/schemas/Error"}}}}})
def create_invitation():
    fields = body_strings(json_body(), email="", role="user")
    email, role = fields["email"], fields["role"]
    invitation, token = auth_services.invite(current_account(), g.actor, g.membership.role, email, role)
    # queued: a job sends it through the workspace's channel
    auth_services.send_invitation(invitation, token, url_for("auth.accept_invitation", token=token, _external=True))
    return jsonify(serialize_invitation(invitation)), 201


@api_route("/openapi.json", public=True, summary="This OpenAPI 3.1 document", tag="Meta",
           responses={200: {"description": "The document.",
                            "content": {"application/json": {"schema": {"type": "object"}}}}})
def openapi():
    return jsonify(build_document(OPERATIONS))


@docs_bp.route("/api/docs")
def docs():
    """Human-readable API reference, rendered from the OpenAPI document."""
    return render_template("api/docs.html", doc=build_document(OPERATIONS), schemas=SCHEMAS)
