"""OIDC Core §5.3: the UserInfo endpoint, protected by our own access tokens."""

from authlib.integrations.flask_oauth2 import current_token
from flask import Blueprint
from flask import jsonify

from ..models import User
from ..models import db
from ..oauth2 import require_oauth

bp = Blueprint("userinfo", __name__)


@bp.route("/userinfo", methods=["GET", "POST"])
@require_oauth("openid")
def userinfo():
    """The signed-in user's claims, as far as the token's scopes release them."""
    user = db.session.scalar(db.select(User).filter_by(sub=current_token["sub"]))
    if user is None:
        return jsonify(error="invalid_token", error_description="The token's user no longer exists."), 401
    return jsonify(user.claims(current_token["scope"]))
