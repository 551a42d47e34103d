"""exportsite settings, read from the environment and validated at start-up.

`exportsite.settings` (DJANGO_SETTINGS_MODULE, and tests/settings.py's star import) is this
package: every module below, each importing what it reads from the ones before it. Every
variable is listed in docs/operations.md. App code reads exportsite-specific values through
`exportsite.conf.export_settings()`, never through os.environ.
"""

# isort: skip_file
# Not sorted: this is the order the start-up checks run in (Django's key, the secrets and the
# hosts first, as before the split).
from exportsite.settings.base import *  # noqa: F403
from exportsite.settings.security import *  # noqa: F403
from exportsite.settings.api import *  # noqa: F403
from exportsite.settings.databases import *  # noqa: F403
from exportsite.settings.workers import *  # noqa: F403
from exportsite.settings.storage import *  # noqa: F403
from exportsite.settings.exports import *  # noqa: F403
from exportsite.settings.logs import *  # noqa: F403
