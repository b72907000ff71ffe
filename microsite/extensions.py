"""Flask extensions, created without an app and bound to one in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .web.ratelimit import client_key, has_no_limit

# Named constraints, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# Batch mode lets later migrations alter tables on SQLite as well as PostgreSQL.
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
# Limits per client; storage from RATELIMIT_STORAGE_URI (memory, or Redis in production).
limiter = Limiter(key_func=client_key)
limiter.request_filter(has_no_limit)
login_manager = LoginManager()
babel = Babel()
