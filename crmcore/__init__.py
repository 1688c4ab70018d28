"""crmcore: a small CRM core that plugins extend.

Importing this package must stay cheap: `crm --help` imports it, so heavy modules
(Litestar, Piccolo, the plugins) load only when a command needs them.
"""

import os

__version__ = "0.1.1"

# Piccolo finds its configuration through this module; ours hands it whatever
# database the running process has opened (see crmcore.db.runtime).
os.environ.setdefault("PICCOLO_CONF", "crmcore.piccolo_conf")
